/**
 * "May this user call this tool with these arguments?": the decision the hub would make for a real
 * request, with the rule that decided it and every rule that bears on it (the console's simulator).
 */
import { z } from 'zod';
import { ruleSchema } from '../config/schema.ts';
import {
  type AccessRequest,
  type CompiledPolicy,
  type Decision,
  type Explanation,
  explain,
} from '../policy/index.ts';
import { HubError } from '../server/errors.ts';
import type { Store } from '../store/store.ts';
import { findUser } from './user-service.ts';

export const accessCheckSchema = z
  .object({
    /** The user's email or id. */
    user: z.string().min(1).max(320),
    server: z.string().min(1).max(200),
    tool: z.string().min(1).max(1000).optional(),
    prompt: z.string().min(1).max(1000).optional(),
    uri: z.string().min(1).max(8192).optional(),
    /** The call's arguments: the server's `resource_argument` is read from them. */
    arguments: z.record(z.string(), z.unknown()).optional(),
    /** Simulate a request made with this API key of the user (its scopes narrow the roles). */
    key_id: z.string().min(1).max(64).optional(),
    /** Simulate a key with these scopes (instead of `key_id`). */
    scopes: z.array(ruleSchema).max(100).optional(),
  })
  .strict()
  .refine((b) => [b.tool, b.prompt, b.uri].filter((v) => v !== undefined).length <= 1, {
    message: 'give at most one of tool, prompt, uri (none asks about the server itself)',
    path: ['tool'],
  })
  .refine((b) => b.key_id === undefined || b.scopes === undefined, {
    message: 'give key_id or scopes, not both',
    path: ['scopes'],
  });

export type AccessCheckInput = z.infer<typeof accessCheckSchema>;

export interface AccessCheckResult {
  allow: boolean;
  rule: string;
  reason: string;
  request: { server: string; kind: AccessRequest['kind']; name?: string; resource?: string };
  user: { id: string; email: string; enabled: boolean; roles: string[] };
  explanation: {
    rules: Explanation['rules'];
    unknown_roles: string[];
    /** The policy's decision before the user's and the server's state were considered. */
    policy_decision: Decision;
  };
}

export async function checkAccess(
  store: Store,
  policy: CompiledPolicy,
  input: AccessCheckInput,
): Promise<AccessCheckResult> {
  const user = await findUser(store, input.user);
  if (!user) throw new HubError('NOT_FOUND', `No user ${input.user}`);
  const server = await store.servers.get(input.server);
  if (!server) throw new HubError('NOT_FOUND', `No server ${input.server}`);

  let scopes = input.scopes;
  if (input.key_id !== undefined) {
    const key = await store.apiKeys.get(input.key_id);
    if (!key || key.userId !== user.id)
      throw new HubError('NOT_FOUND', `No API key ${input.key_id} of ${user.email}`);
    scopes = key.scopes ?? undefined;
  }

  const kind: AccessRequest['kind'] =
    input.tool !== undefined
      ? 'tool'
      : input.prompt !== undefined
        ? 'prompt'
        : input.uri !== undefined
          ? 'uri'
          : 'server';
  const name = input.tool ?? input.prompt ?? input.uri;
  // The same rule as the MCP path (tools/call, prompts/get): only a string value of the argument counts.
  const argName = server.config.resource_argument;
  const carries = kind === 'tool' || kind === 'prompt';
  const rawResource = argName !== undefined && carries ? input.arguments?.[argName] : undefined;
  const resource = typeof rawResource === 'string' ? rawResource : undefined;
  const request: AccessRequest = {
    server: server.name,
    kind,
    ...(name !== undefined ? { name } : {}),
    ...(resource !== undefined ? { resource } : {}),
  };

  const explanation = explain(
    policy,
    { roles: user.roles, ...(scopes !== undefined ? { scopes } : {}) },
    request,
  );
  let decision = explanation.decision;
  // A disabled user or server refuses everything, whatever the rules say (fail closed).
  if (!user.enabled) {
    decision = { allow: false, rule: 'user disabled', reason: `${user.email} is disabled` };
  } else if (!server.enabled) {
    decision = { allow: false, rule: 'server disabled', reason: `server ${server.name} is disabled` };
  }
  return {
    allow: decision.allow,
    rule: decision.rule,
    reason: decision.reason,
    request,
    user: { id: user.id, email: user.email, enabled: user.enabled, roles: [...user.roles] },
    explanation: {
      rules: explanation.rules,
      unknown_roles: explanation.unknownRoles,
      policy_decision: explanation.decision,
    },
  };
}
