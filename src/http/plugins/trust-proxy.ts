import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { AppConfig } from '../../domain/config-types.js';

/** Whether the hop `i` away from us (0: the socket's peer) at `addr` is a proxy we trust. */
export type TrustFn = (addr: string, i: number) => boolean;

/**
 * `trust_proxy` as a trust function for Fastify and the pixel fast path alike: a hop count
 * trusts that many proxies in front (`true` is one), a list trusts the proxies at those
 * addresses or CIDRs. The client is then the rightmost `X-Forwarded-For` entry not trusted,
 * never the leftmost, which the client writes itself. A function rather than Fastify's own
 * number form, which in Fastify 5 trusts no hop at all. Null when no proxy is trusted.
 */
export function trustFunction(trust: AppConfig['trust_proxy']): TrustFn | null {
  if (trust === false || trust === 0) return null;
  if (typeof trust === 'number') return (_addr, i) => i < trust;
  return proxyAddr.compile(trust);
}

/** The client address of a request as Fastify's `req.ip` reads it under `trust`. */
export function clientAddress(req: IncomingMessage, trust: TrustFn | null): string {
  if (!trust) return req.socket.remoteAddress ?? '';
  return proxyAddr(req, trust);
}

/** Whether forwarded headers (`X-Forwarded-Host`, `-Proto`) come from a trusted proxy. */
export function peerIsTrusted(req: IncomingMessage, trust: TrustFn | null): boolean {
  const peer = req.socket.remoteAddress;
  return trust !== null && peer !== undefined && trust(peer, 0);
}
