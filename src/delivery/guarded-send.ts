import dns from 'node:dns';
import net, { type LookupFunction } from 'node:net';
import { ADDRESS_REFUSED } from '../domain/delivery-policy.js';
import { type AddressAllowance, addressRefusal } from '../domain/private-address.js';
import type { HttpSend } from './destinations/adapter.js';
import { agentSend, keepAliveAgents } from './http-send.js';

/** An error carrying why the address was refused, raised from the lookup. */
class AddressRefused extends Error {
  readonly code = ADDRESS_REFUSED;
}

const advice = 'allow it with allow_private_destinations in the config file';

/** Resolves a host name to all its addresses (dns.lookup; injected by tests). */
export type Resolve = (hostname: string, family: number) => Promise<dns.LookupAddress[]>;

const systemResolve: Resolve = (hostname, family) =>
  dns.promises.lookup(hostname, { all: true, family: family === 4 || family === 6 ? family : 0 });

/**
 * A lookup that resolves the host itself, refuses the connection when any address it gives
 * is inside the network, and hands the socket exactly the addresses it checked: the name is
 * not resolved a second time, so a DNS answer that changes in between (DNS rebinding) is
 * never connected to.
 */
function checkedLookup(allowance: AddressAllowance, resolve: Resolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, typeof options.family === 'number' ? options.family : 0).then(
      (list) => {
        for (const a of list) {
          const why = addressRefusal(a.address, allowance);
          if (why) return callback(new AddressRefused(`${hostname}: ${why}; ${advice}`), '', 0);
        }
        const first = list[0];
        if (!first) return callback(new AddressRefused(`${hostname} has no address`), '', 0);
        if (options.all) return (callback as unknown as LookupAll)(null, list);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
type LookupAll = (err: Error | null, addresses: dns.LookupAddress[]) => void;

/**
 * Sends a request of a destination made or edited through the admin API (issue 18): its host
 * is resolved at send time and the request goes out only to public addresses (or those the
 * operator allowed), over the very address that was checked. A numeric host
 * (`http://2130706433`, `http://[::ffff:7f00:1]`) is checked as the address it is. Sent as
 * every destination is (agentSend): redirects not followed, network failures as results.
 */
export function guardedSend(
  allowance: AddressAllowance,
  resolve: Resolve = systemResolve,
): HttpSend {
  return agentSend(keepAliveAgents(checkedLookup(allowance, resolve)), {
    // An IP literal never reaches the lookup: Node connects to it directly.
    refuse: (url) => {
      const literal = url.hostname.replace(/^\[|\]$/g, '');
      const why = net.isIP(literal) ? addressRefusal(literal, allowance) : null;
      return why ? { kind: 'network', error: `${ADDRESS_REFUSED}: ${why}; ${advice}` } : null;
    },
    errorName: (e) =>
      e instanceof AddressRefused ? `${ADDRESS_REFUSED}: ${e.message}` : undefined,
  });
}

/**
 * The sender of the server and the CLI: requests of destinations made or edited through the
 * admin API (`publicOnly`) go through guardedSend, those of the config file's destinations,
 * which are the operator's own, directly (the same keep-alive sending, without the checks).
 */
export function destinationSend(allowance: AddressAllowance): HttpSend {
  const guarded = guardedSend(allowance);
  const direct = agentSend(keepAliveAgents());
  return (req, timeoutMs) => (req.publicOnly ? guarded(req, timeoutMs) : direct(req, timeoutMs));
}
