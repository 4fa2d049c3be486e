/** What the rest of the hub hands to the audit log. The audit module adds time, id, hash chain. */

export type AuditOutcome =
  | 'ok'
  | 'denied'
  | 'tool_error'
  | 'upstream_error'
  | 'timeout'
  | 'rate_limited'
  | 'error';

export interface AuditInput {
  /** `mcp`: an MCP request; `auth`: login, refresh, logout, key created/revoked; `admin`: a change. */
  type: 'mcp' | 'auth' | 'admin';
  /** MCP method (`tools/call`), or `login`, `login_failed`, `token_refresh`, `logout`, `user.update`, … */
  action: string;
  requestId?: string;
  actor?: {
    id: string;
    userId?: string;
    email?: string;
    keyId?: string;
    roles?: readonly string[];
  };
  client?: { ip?: string; userAgent?: string; name?: string; version?: string };
  server?: string;
  /** Tool or prompt name, or resource URI, as the upstream knows it. */
  target?: string;
  /** Value of the server's resource_argument (e.g. `prod_db`). */
  resource?: string;
  /** Raw arguments: the audit module redacts, caps and hashes them off the request path. */
  arguments?: unknown;
  decision?: { allow: boolean; rule: string; reason: string };
  outcome: AuditOutcome;
  /** A short, client-safe error message. */
  error?: string;
  latencyMs?: number;
  replica?: string;
  /** Admin changes: the object before and after (secrets redacted by the audit module too). */
  before?: unknown;
  after?: unknown;
  /** Defaults to now. */
  time?: Date;
}

/** Never blocks and never throws: the request path calls it and moves on. */
export interface AuditSink {
  record(input: AuditInput): void;
}
