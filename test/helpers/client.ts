import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface ClientOptions {
  headers?: Record<string, string>;
  capabilities?: ConstructorParameters<typeof Client>[1] extends infer O
    ? O extends { capabilities?: infer C }
      ? C
      : never
    : never;
}

/** An official SDK client connected to a hub endpoint over Streamable HTTP. */
export async function connectClient(url: string, options: ClientOptions = {}): Promise<Client> {
  const client = new Client(
    { name: 'omnihub-test', version: '1.0.0' },
    { capabilities: options.capabilities ?? {} },
  );
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: options.headers ?? {} },
  });
  await client.connect(transport);
  return client;
}
