/**
 * No input makes a request cost more than linear time (issue 18). Each field that a regular
 * expression or a scan reads (URLs, referrers, user agents, cookies, keys, forwarded
 * addresses) is sent at the largest size its endpoint accepts, in the shapes that made the
 * old expressions backtrack, and the request — parsing, validation, scrubbing, the group commit
 * — must cost well under a second of CPU. Before the fix one 63,000-character `properties.url`
 * cost 2.5 s, and a 1 MB one minutes. CPU time, not wall time: the bound holds on a busy box.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SEGMENT_BATCH_BYTES,
  MAX_SEGMENT_EVENT_BYTES,
} from '../../src/domain/segment-mapping.js';
import { MAX_COST_BODY_BYTES } from '../../src/http/admin/costs.js';
import { MAX_FX_BODY_BYTES } from '../../src/http/admin/fx-rates.js';
import { MAX_BODY_BYTES } from '../../src/http/app.js';
import { MAX_REQUEST_HEAD_BYTES } from '../../src/http/client-error.js';
import { MAX_BEACON_BYTES } from '../../src/http/collect/beacon.js';
import type { Server } from '../../src/server.js';
import { cheapestCpuMs } from '../helpers/cpu-time.js';
import { startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

/**
 * What a request of `n` characters may cost: a fixed 50 ms plus 500 ms a megabyte. A linear
 * pass over a megabyte is a few ms, tens on a loaded box; the quadratic scans this replaced
 * cost 2.5 s for 63,000 characters (about 0.6 s at 32 KB, where this allows 66 ms) and
 * minutes for a megabyte. Scaled to the size so that a small field keeps a tight bound.
 */
const requestCpuMs = (n: number) => 50 + (500 * n) / (1024 * 1024);
/**
 * What an admin import of up to 12.8 MB may cost: reading the body and one pass over it
 * (blank lines are all read: measured 60-110 ms on a busy box, 254-343 ms at load 10); a
 * parse of every line of it, as before issue 23's review, took minutes.
 */
const IMPORT_CPU_MS = 3000;
/** Room left in a body or head for everything but the long field. */
const ROOM = 1024;

/** Makes every event id unique, so no request is a duplicate of the one before. */
let seq = 0;
let server: Server;
let port: number;

beforeAll(async () => {
  const config = {
    ...testConfig('http://127.0.0.1:9/hook'),
    rate_limit: { per_ip: 0, per_key: 0 },
    trust_proxy: true,
  };
  let base: string;
  ({ server, base } = await startPixeltrail(config, tempDir()));
  port = Number(new URL(base).port);
});
afterAll(async () => {
  console.log(`linear-input: costliest request ${worst.cpu.toFixed(1)} ms CPU (${worst.name})`);
  await server?.close();
});

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

function send(r: Sent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers: r.headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/**
 * Sends the request once small (so V8 has compiled the code on its path), then twice at full
 * size: answers the status and the CPU the cheaper full-size request cost, up to its group
 * commit (cheapestCpuMs).
 */
async function measured(make: (n: number) => Sent, n: number): Promise<[number, number]> {
  await send(make(64));
  await server.services.pipeline.flush();
  let status = 0;
  const cpu = await cheapestCpuMs(async () => {
    status = await send(make(n));
    await server.services.pipeline.flush();
  });
  return [status, cpu];
}

/**
 * Query parameters a URL may hold and still be scrubbed inside the bound: each costs about
 * 0.4 µs, so a megabyte of `&e=a@b.cd` (110,000 of them) is linear work near the bound on a
 * busy box; U03 (url-scrub.test.ts) holds the megabyte to it alone.
 */
const MANY_PARAMS_CHARS = 256 * 1024;

/**
 * The shapes of a long URL, `n` characters each: those that made the old email expression
 * backtrack, and one that made URLSearchParams.delete re-serialise the query per parameter.
 */
function longUrls(n: number): Record<string, string> {
  const head = 'https://shop.example/thanks?q=';
  const fill = (unit: string) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n - head.length);
  return {
    'a URL without @': head + fill('x'),
    'a URL of a.a.a after an @': `${head}a@${fill('a.').slice(2)}`,
    'a URL of many email parameters': head + fill('&e=a@b.cd').slice(0, MANY_PARAMS_CHARS),
    'text without @': fill('x') + head,
  };
}

/** The shapes of a long header value: runs that a backtracking pattern would rescan. */
function longHeader(prefix: string, n: number): string[] {
  return ['x', ' ', 'a/', '; a', '1.', 'a@', 'mozilla/5.0 ('].map(
    (unit) => prefix + unit.repeat(Math.ceil(n / unit.length)).slice(0, n - prefix.length),
  );
}

/** The costliest request seen, for the log. */
let worst = { name: '', cpu: 0 };

async function expectLinear(
  name: string,
  make: (n: number) => Sent,
  n: number,
  ok: number[],
  bound = requestCpuMs(n),
) {
  const [status, cpu] = await measured(make, n);
  if (cpu > worst.cpu) worst = { name, cpu };
  expect(ok, `${name}: status`).toContain(status);
  expect(cpu, `${name}: CPU ms`).toBeLessThan(bound);
}

const json = { 'content-type': 'application/json', 'user-agent': UA };
const segmentAuth = `Basic ${Buffer.from('wk_t:').toString('base64')}`;

describe('linear time on every field a pattern reads', () => {
  it('X01 POST /e: properties.url, referrer, href and a long *_url key at 64 KB', async () => {
    for (const [shape, url] of Object.entries(longUrls(MAX_BEACON_BYTES - ROOM))) {
      for (const key of ['url', 'referrer', 'href', 'page_location']) {
        const make = (n: number) => ({
          method: 'POST',
          path: '/e',
          headers: { ...json, origin: 'http://shop.test' },
          body: JSON.stringify({
            event_name: 'PageView',
            env_id: 'env_t',
            properties: { [key]: url.slice(0, n) },
          }),
        });
        await expectLinear(`${key}: ${shape}`, make, url.length, [204]);
      }
    }
  });

  it('X02 POST /v1/events: a 1 MB properties.url or referrer', async () => {
    for (const [shape, url] of Object.entries(longUrls(MAX_BODY_BYTES - ROOM))) {
      for (const key of ['url', 'referrer']) {
        const make = (n: number) => ({
          method: 'POST',
          path: '/v1/events',
          headers: { ...json, authorization: 'Bearer wk_t' },
          body: JSON.stringify({
            events: [
              {
                event_name: 'PageView',
                event_id: `x02-${++seq}`,
                properties: { [key]: url.slice(0, n) },
              },
            ],
          }),
        });
        await expectLinear(`${key}: ${shape}`, make, url.length, [200]);
      }
    }
  });

  it('X03 Segment: a 500 KB batch of 32 KB page URLs and referrers', async () => {
    const perMessage = MAX_SEGMENT_EVENT_BYTES - ROOM;
    const count = Math.floor(MAX_SEGMENT_BATCH_BYTES / MAX_SEGMENT_EVENT_BYTES);
    for (const [shape, url] of Object.entries(longUrls(perMessage))) {
      const make = (n: number) => ({
        method: 'POST',
        path: '/v1/batch',
        headers: { ...json, authorization: segmentAuth },
        body: JSON.stringify({
          batch: Array.from({ length: count }, () => ({
            type: 'page',
            messageId: `x03-${++seq}`,
            anonymousId: 'anon-x03',
            properties: { url: url.slice(0, n / 2) },
            context: { page: { referrer: url.slice(0, n / 2) } },
          })),
        }),
      });
      await expectLinear(shape, make, perMessage, [200]);
    }
  });

  it('X04 Snowplow: a 1 MB tp2 url and refr, and a 32 KB GET pixel url', async () => {
    for (const [shape, url] of Object.entries(longUrls(MAX_BODY_BYTES / 2 - ROOM))) {
      const make = (n: number) => ({
        method: 'POST',
        path: '/com.snowplowanalytics.snowplow/tp2',
        headers: json,
        body: JSON.stringify({
          schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
          data: [
            {
              e: 'pv',
              aid: 'env_t',
              p: 'web',
              eid: `x04-${++seq}`,
              url: url.slice(0, n),
              refr: url.slice(0, n),
            },
          ],
        }),
      });
      await expectLinear(`tp2 ${shape}`, make, url.length, [200]);
    }
    for (const [shape, url] of Object.entries(longUrls(MAX_REQUEST_HEAD_BYTES / 3 - ROOM))) {
      const make = (n: number) => ({
        path: `/i?e=pv&aid=env_t&p=web&tv=js-4&url=${encodeURIComponent(url.slice(0, n))}`,
        headers: { 'user-agent': UA },
      });
      await expectLinear(`GET ${shape}`, make, url.length, [200]);
    }
  });

  it('X05 /p: a 32 KB Referer; /c: a 32 KB target url', async () => {
    for (const [shape, url] of Object.entries(longUrls(MAX_REQUEST_HEAD_BYTES - 2 * ROOM))) {
      const pixel = (n: number) => ({
        path: '/p?env_id=env_t&ev=Lead',
        headers: { 'user-agent': UA, referer: url.slice(0, n) },
      });
      await expectLinear(`/p Referer: ${shape}`, pixel, url.length, [200]);
    }
    for (const [shape, url] of Object.entries(longUrls((MAX_REQUEST_HEAD_BYTES - 2 * ROOM) / 3))) {
      const click = (n: number) => ({
        path: `/c?env_id=env_t&dest_id=dsp1&click_id=c1&url=${encodeURIComponent(url.slice(0, n))}`,
        headers: { 'user-agent': UA },
      });
      await expectLinear(`/c url: ${shape}`, click, url.length, [302, 400]);
    }
  });

  it('X06 32 KB user agents, cookies, keys, purposes and forwarded addresses on every browser endpoint', async () => {
    const n = MAX_REQUEST_HEAD_BYTES - 2 * ROOM;
    const headerCases: Array<[string, string, string[]]> = [
      ['user-agent', '', longHeader('', n)],
      ['cookie', 'ptid=', longHeader('ptid=', n)],
      ['sec-purpose', '', longHeader('', n)],
      ['x-forwarded-for', '', longHeader('203.0.113.9, ', n)],
    ];
    const targets: Array<[string, string, number[]]> = [
      ['GET', '/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-X06', [200]],
      ['GET', '/p?env_id=env_t&ev=Lead', [200]],
      ['POST', '/e', [204]],
    ];
    for (const [header, , values] of headerCases) {
      for (const value of values) {
        for (const [method, path, ok] of targets) {
          const make = (size: number) => ({
            method,
            path,
            headers: {
              ...json,
              origin: 'http://shop.test',
              [header]: value.slice(0, size),
            },
            body:
              method === 'POST'
                ? JSON.stringify({ event_name: 'Lead', env_id: 'env_t' })
                : undefined,
          });
          await expectLinear(`${method} ${path} ${header}: ${value.slice(0, 20)}…`, make, n, ok);
        }
      }
    }
  });

  it('X07 32 KB Authorization headers on the server, Segment, admin and rules APIs', async () => {
    const n = MAX_REQUEST_HEAD_BYTES - 2 * ROOM;
    const values = [
      ...longHeader('Bearer ', n),
      ...longHeader('Basic ', n),
      ...longHeader('Bearer wk_t', n),
    ];
    const targets: Array<[string, string, number[]]> = [
      ['POST', '/v1/events', [401]],
      ['POST', '/v1/track', [401]],
      ['GET', '/api/stats', [401]],
      ['GET', '/rules?env_id=env_t', [401, 200]],
    ];
    for (const value of values) {
      for (const [method, path, ok] of targets) {
        const make = (size: number) => ({
          method,
          path,
          headers: {
            ...json,
            authorization: value.slice(0, size),
            // A client of its own each time: wrong keys from one address end in a lockout
            // (429) that would answer before the key is read.
            'x-forwarded-for': `10.${(++seq >> 16) & 255}.${(seq >> 8) & 255}.${seq & 255}`,
          },
          body: method === 'POST' ? JSON.stringify({ events: [] }) : undefined,
        });
        await expectLinear(`${method} ${path}: ${value.slice(0, 20)}…`, make, n, [...ok, 400]);
      }
    }
  });
  it('X08 campaign fields (issue 23): 1 MB of UTM parameters, click ids and referrers; Segment context.campaign; Snowplow mkt_* and refr_urlhost; the classify API', async () => {
    const big = MAX_BODY_BYTES - ROOM;
    const fill = (unit: string, n: number) =>
      unit.repeat(Math.max(0, Math.ceil(n / unit.length))).slice(0, Math.max(0, n));
    const landings: Record<string, (n: number) => string> = {
      'many utm pairs': (n) => `https://shop.example/?${fill('&utm_source=x&gclid=y', n - 30)}`,
      'one long utm value': (n) =>
        `https://shop.example/?utm_campaign=${fill('%E2%82%AC+a', n - 40)}`,
      'a long name': (n) => `https://shop.example/?${fill('utm_', n - 30)}=1`,
      'pairs without =': (n) => `https://shop.example/?${fill('a&', n - 30)}utm_source=s`,
      'a long host': (n) => `https://${fill('a.', n - 20)}/x?utm_source=s`,
    };
    for (const [shape, url] of Object.entries(landings)) {
      const make = (n: number) => ({
        method: 'POST',
        path: '/v1/events',
        headers: { ...json, authorization: 'Bearer wk_t' },
        body: JSON.stringify({
          events: [
            {
              event_name: 'PageView',
              event_id: `x08-${++seq}`,
              user: { anonymous_id: 'anon-x08' },
              campaign: { source: 'newsletter', medium: 'email', name: 'x'.repeat(200) },
              properties: {
                url: url(Math.floor(n * 0.4)),
                referrer: url(Math.floor(n * 0.4)).replace(
                  'https://shop.example',
                  'https://l.facebook.com',
                ),
                utm_source: fill('a ', Math.floor(n / 10)),
              },
            },
          ],
        }),
      });
      await expectLinear(`v1/events ${shape}`, make, big, [200]);
      const classify = (n: number) => ({
        method: 'POST',
        path: '/api/channels/classify',
        headers: { ...json, authorization: 'Bearer adm' },
        body: JSON.stringify({ env_id: 'env_t', url: url(n), referrer: url(n) }),
      });
      // Admin bodies are small: a 16 KB URL and referrer.
      await expectLinear(`classify ${shape}`, classify, 16 * 1024, [200]);
    }
    const segment = (n: number) => ({
      method: 'POST',
      path: '/v1/page',
      headers: { ...json, authorization: segmentAuth },
      body: JSON.stringify({
        messageId: `x08s-${++seq}`,
        anonymousId: 'anon-x08',
        context: {
          campaign: { source: 'x'.repeat(250), medium: 'email' },
          page: { url: landings['many utm pairs']?.(n), referrer: 'https://www.google.com/' },
        },
      }),
    });
    await expectLinear('Segment context.campaign', segment, MAX_SEGMENT_EVENT_BYTES - ROOM, [200]);
    const snowplow = (n: number) => ({
      method: 'POST',
      path: '/com.snowplowanalytics.snowplow/tp2',
      headers: json,
      body: JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: [
          {
            e: 'pv',
            aid: 'env_t',
            eid: `x08p-${++seq}`,
            duid: 'anon-x08',
            url: landings['one long utm value']?.(n / 2),
            refr_urlhost: fill('a.', n / 4),
            mkt_source: fill('s', n / 8),
            mkt_medium: 'cpc',
          },
        ],
      }),
    });
    await expectLinear('Snowplow mkt_* and refr_urlhost', snowplow, big, [200]);
  });

  it('X09 cost and rate CSV imports (issue 23): a body of junk or blank lines up to the cap is refused reading no more than the row cap; a quote never closed', async () => {
    const csv = (path: string, header: string, fill: (n: number) => string) => (n: number) => ({
      method: 'POST',
      path,
      headers: { 'content-type': 'text/csv', authorization: 'Bearer adm' },
      body: header + fill(n - header.length),
    });
    const shapes: Record<string, (n: number) => string> = {
      // A file of a header alone imports nothing: 200, saved 0.
      // csv-parse built an error with its stack for each line of another length than the
      // header's: 400,000 of them took 32 s before the import was refused for its length.
      'junk lines': (n) => 'x\n'.repeat(Math.floor(n / 2)),
      'blank lines': (n) => '\n'.repeat(n),
      'a quote never closed': (n) => `"${'a,\n'.repeat(Math.floor(n / 3))}`,
    };
    for (const [shape, fill] of Object.entries(shapes)) {
      await expectLinear(
        `costs CSV ${shape}`,
        csv('/api/costs?env_id=env_t', 'date,campaign_id,cost,currency\n', fill),
        MAX_COST_BODY_BYTES - ROOM,
        [200, 400],
        IMPORT_CPU_MS,
      );
      await expectLinear(
        `rates CSV ${shape}`,
        csv('/api/fx-rates', 'date,from,to,rate\n', fill),
        MAX_FX_BODY_BYTES - ROOM,
        [200, 400],
        IMPORT_CPU_MS,
      );
    }
    // Past the caps, refused before a byte is parsed.
    const over = await send(
      csv('/api/costs?env_id=env_t', 'date,campaign_id,cost,currency\n', (n) => 'x'.repeat(n))(
        MAX_COST_BODY_BYTES + 1,
      ),
    );
    expect(over).toBe(413);
  });
});
