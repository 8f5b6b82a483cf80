import ipaddr from 'ipaddr.js';

/** Words for the address classes a destination may not be aimed at (ipaddr.js range names). */
const CLASS_WORDS: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  carrierGradeNat: 'shared (carrier-grade NAT)',
};

/**
 * Which destinations may be aimed inside the network (`allow_private_destinations`): all
 * (true), none (false), or those whose addresses fall in these CIDRs.
 */
export type PrivateAllowance = boolean | readonly string[];

/** A parsed allowance: the CIDRs to let through, or every address. */
export type AddressAllowance = 'all' | ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

/** Parses one `allow_private_destinations` entry (an address is its own /32 or /128). */
export function parseCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  try {
    if (text.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      return [
        normal(addr),
        addr.kind() === 'ipv6' && normal(addr).kind() === 'ipv4' ? bits - 96 : bits,
      ];
    }
    const addr = normal(ipaddr.parse(text));
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

/** The allowance of the config's `allow_private_destinations`, its entries already checked. */
export function addressAllowance(allow: PrivateAllowance): AddressAllowance {
  if (allow === true) return 'all';
  if (allow === false) return [];
  return allow.flatMap((c) => {
    const cidr = parseCidr(c);
    return cidr ? [cidr] : [];
  });
}

/** IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is the IPv4 address it carries. */
function normal(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;
}

/**
 * Why a destination may not be sent to `ip`, or null when it may: every address that is not
 * public unicast (loopback, private, link-local such as 169.254.169.254, unique-local,
 * multicast, CGNAT, reserved, and IPv6 forms that embed an IPv4 address: NAT64, 6to4,
 * Teredo) is refused, unless the allowance lets it through.
 */
export function addressRefusal(ip: string, allowance: AddressAllowance): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = normal(ipaddr.parse(ip));
  } catch {
    return `${ip} is not an IP address`;
  }
  const range = addr.range();
  if (range === 'unicast') return null;
  if (allowance === 'all') return null;
  for (const [net, bits] of allowance)
    if (net.kind() === addr.kind() && addr.match(net, bits)) return null;
  const what = CLASS_WORDS[range] ?? `reserved (${range})`;
  return `${addr.toString()} is a ${what} address`;
}
