import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { ADDRESS_REFUSED } from '../domain/delivery-policy.js';
import { type AddressAllowance, addressRefusal } from '../domain/private-address.js';
import type { HttpResult, HttpSend, OutgoingRequest } from './destinations/adapter.js';
import { fetchSend, RESPONSE_READ_CHARS } from './http-send.js';

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
 * (`http://2130706433`, `http://[::ffff:7f00:1]`) is checked as the address it is. Like
 * fetchSend, redirects are not followed and network failures come back as results.
 */
export function guardedSend(
  allowance: AddressAllowance,
  resolve: Resolve = systemResolve,
): HttpSend {
  const lookup = checkedLookup(allowance, resolve);
  const agents = {
    'http:': new http.Agent({ keepAlive: true, lookup }),
    'https:': new https.Agent({ keepAlive: true, lookup }),
  };
  return (req: OutgoingRequest, timeoutMs: number): Promise<HttpResult> =>
    new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        return resolve({ kind: 'network', error: 'invalid_url' });
      }
      const agent = agents[url.protocol as keyof typeof agents];
      if (!agent) return resolve({ kind: 'network', error: 'unsupported_protocol' });
      // An IP literal never reaches the lookup: Node connects to it directly.
      const literal = url.hostname.replace(/^\[|\]$/g, '');
      if (net.isIP(literal)) {
        const why = addressRefusal(literal, allowance);
        if (why)
          return resolve({ kind: 'network', error: `${ADDRESS_REFUSED}: ${why}; ${advice}` });
      }
      const client = url.protocol === 'https:' ? https : http;
      const out = client.request(url, { method: req.method, headers: req.headers, agent });
      const timer = setTimeout(() => out.destroy(timeoutError()), timeoutMs);
      const done = (r: HttpResult) => {
        clearTimeout(timer);
        resolve(r);
      };
      out.on('error', (e: Error & { code?: string }) =>
        done({
          kind: 'network',
          error:
            e instanceof AddressRefused ? `${ADDRESS_REFUSED}: ${e.message}` : (e.code ?? e.name),
        }),
      );
      out.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < RESPONSE_READ_CHARS) text += chunk;
        });
        res.on('error', () => undefined);
        res.on('end', () =>
          done({
            kind: 'response',
            status: res.statusCode ?? 0,
            retryAfter: headerValue(res.headers['retry-after']),
            bodyExcerpt: text.slice(0, RESPONSE_READ_CHARS),
            contentType: headerValue(res.headers['content-type']),
          }),
        );
      });
      out.end(req.body);
    });
}

function headerValue(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
}

/** The name fetch gives a timed-out request, so both senders report it alike. */
function timeoutError(): Error {
  const e = new Error('the destination did not answer in time');
  e.name = 'TimeoutError';
  return e;
}

/**
 * The sender of the server and the CLI: requests of destinations made or edited through the
 * admin API (`publicOnly`) go through guardedSend, those of the config file's destinations,
 * which are the operator's own, through fetch as before.
 */
export function destinationSend(allowance: AddressAllowance): HttpSend {
  const guarded = guardedSend(allowance);
  return (req, timeoutMs) => (req.publicOnly ? guarded(req, timeoutMs) : fetchSend(req, timeoutMs));
}
