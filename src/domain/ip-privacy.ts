import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';

/** How client IPs are stored (issue 6): keyed hash, truncated, or raw. */
export type IpStorage = 'hmac' | 'truncated' | 'raw';

/** Stored hashes are prefixed so a reader can tell them from addresses. */
const HMAC_PREFIX = 'h:';
/**
 * What hashedIp writes, and nothing else: a value that only starts like it (`h:` and an
 * address, sent by a client) is an address, and is protected like any other.
 */
const HASHED_IP_RE = /^h:[A-Za-z0-9_-]{22}$/;

/**
 * The IP as it may be written to the store. `hmac` keeps IP matching working (same IP, same
 * value) without ever writing the address; `truncated` keeps the /24 (IPv4) or /48 (IPv6)
 * network, as Google Analytics' IP anonymization does. Values already protected pass as they are.
 */
export function protectIp(ip: string, mode: IpStorage, secret: string): string {
  if (mode === 'raw' || HASHED_IP_RE.test(ip)) return ip;
  if (mode === 'hmac') return hashedIp(ip, secret);
  return truncateIp(ip);
}

/**
 * True for a keyed hash as the store keeps it: not an address, so never sent to a platform as
 * one (a row queued again after its raw IP was cleared carries only this).
 */
export function isHashedIp(ip: string): boolean {
  return HASHED_IP_RE.test(ip);
}

/**
 * Hashes remembered per secret. An HMAC was a tenth of a pixel hit's CPU, and traffic
 * repeats its addresses (a page's ad slots, a person's session, an office's NAT); the map is
 * bounded and cleared when full, like the user-agent classes in http/request/traffic.ts.
 */
const MAX_REMEMBERED_IPS = 20_000;
const hashesBySecret = new Map<string, Map<string, string>>();
let rememberedIps = 0;

function hashedIp(ip: string, secret: string): string {
  let hashes = hashesBySecret.get(secret);
  let hashed = hashes?.get(ip);
  if (hashed !== undefined) return hashed;
  hashed = HMAC_PREFIX + createHmac('sha256', secret).update(ip).digest('base64url').slice(0, 22);
  if (rememberedIps >= MAX_REMEMBERED_IPS) {
    hashesBySecret.clear();
    rememberedIps = 0;
    hashes = undefined;
  }
  if (!hashes) {
    hashes = new Map();
    hashesBySecret.set(secret, hashes);
  }
  hashes.set(ip, hashed);
  rememberedIps++;
  return hashed;
}

/** The /24 of an IPv4 address or the /48 of an IPv6 one; anything else is dropped to ''. */
export function truncateIp(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(v4) === 4) return v4.replace(/\.\d+$/, '.0');
  if (isIP(ip) !== 6) return '';
  const [head, tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [
    ...left,
    ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'),
    ...right,
  ];
  return `${groups.slice(0, 3).join(':')}::`;
}
