import ipaddr from 'ipaddr.js';

/** The ranges `trust_proxy` may name, as @fastify/proxy-addr knows them. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Whether one `trust_proxy` entry is an address, a CIDR (`10.0.0.0/8`), an address with a
 * netmask (`10.0.0.0/255.0.0.0`) or a named range: what src/http/plugins/trust-proxy.ts
 * compiles with @fastify/proxy-addr, read here the way that library reads it, so the config
 * stays free of Fastify.
 */
export function isProxyEntry(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const slash = entry.lastIndexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  if (!ipaddr.isValid(address)) return false;
  if (slash < 0) return true;
  const max = ipaddr.parse(address).kind() === 'ipv6' ? 128 : 32;
  const range = entry.slice(slash + 1);
  if (/^\d+$/.test(range)) return Number(range) > 0 && Number(range) <= max;
  if (max !== 32 || !ipaddr.isValid(range)) return false;
  const mask = ipaddr.parse(range);
  const bits = mask.kind() === 'ipv4' ? (mask as ipaddr.IPv4).prefixLengthFromSubnetMask() : null;
  return bits !== null && bits > 0;
}
