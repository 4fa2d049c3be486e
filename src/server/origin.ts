import type { IncomingHttpHeaders } from 'node:http';
import { HubError } from './errors.ts';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

function isLoopbackBind(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Strips the port from a Host header value (`[::1]:8090` → `[::1]`). */
function hostname(hostHeader: string): string {
  const value = hostHeader.trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  const colon = value.lastIndexOf(':');
  return colon === -1 ? value : value.slice(0, colon);
}

export interface OriginPolicy {
  bindHost: string;
  publicUrl: string;
  allowedOrigins: string[];
  allowedHosts: string[];
}

/**
 * DNS-rebinding protection for the MCP endpoint. A present but foreign `Origin` is refused with 403
 * (spec 2025-11-25); the `Host` header must name the hub when the hub listens on loopback or its public
 * host is known. `*` in OMNIHUB_ALLOWED_HOSTS turns the Host check off (behind a proxy that checks it).
 */
export function createOriginGuard(policy: OriginPolicy): (headers: IncomingHttpHeaders) => void {
  const hosts = new Set(policy.allowedHosts.map((h) => h.toLowerCase()));
  const anyHost = hosts.has('*');
  hosts.add(new URL(policy.publicUrl).hostname.toLowerCase());
  if (isLoopbackBind(policy.bindHost)) for (const h of LOOPBACK_HOSTS) hosts.add(h);
  const origins = new Set(policy.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  origins.add(new URL(policy.publicUrl).origin.toLowerCase());

  return (headers) => {
    const host = headers.host;
    if (!anyHost && (!host || !hosts.has(hostname(host)))) {
      throw new HubError('FORBIDDEN_ORIGIN', 'Forbidden: Host header not allowed');
    }
    const origin = headers.origin;
    if (origin === undefined) return;
    let allowed = origins.has(origin.toLowerCase());
    if (!allowed) {
      try {
        allowed = hosts.has(new URL(origin).hostname.toLowerCase()) && !anyHost;
      } catch {
        allowed = false;
      }
    }
    if (!allowed) throw new HubError('FORBIDDEN_ORIGIN', 'Forbidden: Origin not allowed');
  };
}
