import { isIP } from 'node:net';

/** Longest spelling of an IPv6 address with a zone and an embedded IPv4 tail, with room. */
const MAX_IP_CHARS = 64;
/** `::ffff:` followed by the IPv4 address, dotted or as two hex groups (as URL prints it). */
const MAPPED_DOTTED_RE = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;
const MAPPED_HEX_RE = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * One spelling per address, or null when `raw` is not an IP address. The same client
 * arrives as `::ffff:203.0.113.9` through a dual-stack socket and as `203.0.113.9` from a
 * server's own record; IPv6 has many spellings (`2001:DB8:0::1`, `2001:db8::1`). IP matching,
 * the keyed hash and the /48 truncation all compare strings, so every address is written as
 * RFC 5952 text and IPv4-mapped IPv6 as the IPv4 address it carries. A `%zone` is dropped: it
 * names an interface on the receiving host, not the client.
 */
export function canonicalIp(raw: string): string | null {
  if (raw.length > MAX_IP_CHARS) return null;
  const ip = raw.trim();
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind !== 6) return null;
  const zone = ip.indexOf('%');
  const bare = (zone === -1 ? ip : ip.slice(0, zone)).toLowerCase();
  const dotted = MAPPED_DOTTED_RE.exec(bare);
  if (dotted?.[1] && isIP(dotted[1]) === 4) return dotted[1];
  // WHATWG URL serialises IPv6 hosts in RFC 5952 form (lower case, longest zero run as ::).
  let text: string;
  try {
    text = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const hex = MAPPED_HEX_RE.exec(text);
  if (!hex?.[1] || !hex[2]) return text;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** `[2001:db8::1]:443`, `[2001:db8::1]` or `203.0.113.9:443`: an address with a port. */
const WITH_PORT_RE = /^\[([^\]]+)\](?::\d{1,5})?$|^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;

/**
 * The client address of a request, as the socket or a proxy's `X-Forwarded-For` gives it:
 * some proxies (Azure Application Gateway, IIS ARR) append the client's port, or bracket an
 * IPv6 address. Null when no address is left.
 */
export function requestIp(raw: string): string | null {
  let ip = rememberedIps.get(raw);
  if (ip !== undefined) return ip;
  ip = readRequestIp(raw);
  if (raw.length <= MAX_IP_CHARS) {
    if (rememberedIps.size >= MAX_REMEMBERED_IPS) rememberedIps.clear();
    rememberedIps.set(raw, ip);
  }
  return ip;
}

/**
 * Addresses as requestIp read them. Every pixel hit reads its client's address, and a
 * dual-stack socket gives `::ffff:203.0.113.9`, which takes the IPv6 checks and a URL parse
 * (a fifth of the impression pixel's own work); traffic repeats its addresses. Bounded and
 * cleared when full, like the keyed hashes in ip-privacy.ts.
 */
const MAX_REMEMBERED_IPS = 20_000;
const rememberedIps = new Map<string, string | null>();

function readRequestIp(raw: string): string | null {
  const ip = canonicalIp(raw);
  if (ip !== null || raw.length > MAX_IP_CHARS) return ip;
  const m = WITH_PORT_RE.exec(raw.trim());
  const inner = m?.[1] ?? m?.[2];
  return inner ? canonicalIp(inner) : null;
}
