import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';

/** How client IPs are stored (issue 6): keyed hash, truncated, or raw. */
export type IpStorage = 'hmac' | 'truncated' | 'raw';

/** Stored hashes are prefixed so a reader can tell them from addresses. */
const HMAC_PREFIX = 'h:';

/**
 * The IP as it may be written to the store. `hmac` keeps IP matching working (same IP, same
 * value) without ever writing the address; `truncated` keeps the /24 (IPv4) or /48 (IPv6)
 * network, as Google Analytics' IP anonymization does. Values already protected pass as they are.
 */
export function protectIp(ip: string, mode: IpStorage, secret: string): string {
  if (mode === 'raw' || ip.startsWith(HMAC_PREFIX)) return ip;
  if (mode === 'hmac')
    return HMAC_PREFIX + createHmac('sha256', secret).update(ip).digest('base64url').slice(0, 22);
  return truncateIp(ip);
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
