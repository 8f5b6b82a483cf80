import type http from 'node:http';
import type { BrowserRequest } from '../request/identity.js';
import { clientAddress, peerIsTrusted, type TrustFn } from './trust-proxy.js';

/** Fastify's `hostname`: the Host header without its port (an IPv6 host keeps brackets). */
function hostnameOf(host: string): string {
  if (host[0] === '[') return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** Fastify's reading of a repeated `X-Forwarded-Host`/`-Proto`: the last value. */
function lastEntry(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma < 0 ? value : value.slice(comma + 1)).trim();
}

/**
 * The request as Fastify's `req.ip`, `hostname` and `protocol` read it: from the socket, or
 * under `trust_proxy` the rightmost untrusted `X-Forwarded-For` address (trust-proxy.ts) and,
 * when the socket's peer is a trusted proxy, the last `X-Forwarded-Host` and
 * `X-Forwarded-Proto`.
 */
export function browserRequest(req: http.IncomingMessage, trust: TrustFn | null): BrowserRequest {
  const h = req.headers;
  if (!trust)
    return {
      headers: h,
      ip: req.socket.remoteAddress ?? '',
      hostname: hostnameOf(h.host ?? ''),
      protocol: 'http',
    };
  const forwarded = peerIsTrusted(req, trust);
  const forwardedHost = forwarded ? h['x-forwarded-host'] : undefined;
  const forwardedProto = forwarded ? h['x-forwarded-proto'] : undefined;
  return {
    headers: h,
    ip: clientAddress(req, trust),
    hostname: hostnameOf(
      typeof forwardedHost === 'string' && forwardedHost
        ? lastEntry(forwardedHost)
        : (h.host ?? ''),
    ),
    protocol:
      typeof forwardedProto === 'string' && forwardedProto ? lastEntry(forwardedProto) : 'http',
  };
}
