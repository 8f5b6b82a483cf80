/**
 * The `ptid` cookie's attributes on every route that sets it (issue 6): `SameSite=None;
 * Secure` (plus `Partitioned` when configured) over HTTPS, `SameSite=Lax` without `Secure`
 * over plain HTTP, localhost included; always HttpOnly. Behind a trusted proxy HTTPS is the
 * proxy's `X-Forwarded-Proto`; without `trust_proxy` a client cannot claim it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { gppString } from '../helpers/gpp.js';
import { startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { tcfString } from '../helpers/tcf.js';

let hook: Receiver;
let proxied: { server: Server; base: string };
let direct: { server: Server; base: string };

const ORIGIN = 'http://shop.test';
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  const cfg = testConfig(`${hook.url}/hook`, {}, { click_url_hosts: ['shop.test'] });
  const plain = cfg.environments[0];
  const chips = { ...plain, id: 'env_chips', write_key: 'wk_chips', cookie_partitioned: true };
  const eu = { ...plain, id: 'env_eu', write_key: 'wk_eu', consent_default: 'denied' };
  const strict = { ...plain, id: 'env_strict', write_key: 'wk_strict', consent_default: 'denied' };
  const raw = { ...cfg, environments: [plain, chips, eu, strict] };
  proxied = await startPixeltrail({ ...raw, trust_proxy: true }, tempDir());
  direct = await startPixeltrail(raw, tempDir());
});
afterAll(async () => {
  await proxied?.server.close();
  await direct?.server.close();
  await hook?.close();
});

let n = 0;
/** Each route that may set `ptid`, hit by a browser without one, for environment `env`. */
function routes(
  env: string,
  key: string,
): [string, (base: string, h: HeadersInit) => Promise<Response>][] {
  const id = () => `cookie-id-${++n}-abcdef`;
  const json = (body: unknown) => JSON.stringify(body);
  const post = (base: string, path: string, h: HeadersInit, body: string, auth = false) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        ...h,
        'content-type': 'text/plain',
        origin: ORIGIN,
        ...(auth ? { authorization: basic(key) } : {}),
      },
      body,
    });
  return [
    [
      '/i',
      (b, h) => fetch(`${b}/i?env_id=${env}&dest_id=dsp1&imp_id=IMP-CK${++n}`, { headers: h }),
    ],
    [
      '/c',
      (b, h) =>
        fetch(
          `${b}/c?env_id=${env}&dest_id=dsp1&click_id=CLK-CK${++n}&url=${encodeURIComponent('http://shop.test/')}`,
          { headers: h, redirect: 'manual' },
        ),
    ],
    ['/p', (b, h) => fetch(`${b}/p?env_id=${env}&ev=Lead&eid=lead-ck-${++n}`, { headers: h })],
    [
      '/e',
      (b, h) =>
        post(
          b,
          '/e',
          h,
          json({
            event_name: 'Lead',
            event_id: `e-ck-${++n}`,
            env_id: env,
            user: { anonymous_id: id() },
          }),
        ),
    ],
    [
      'Segment /v1/t',
      (b, h) =>
        post(
          b,
          '/v1/t',
          h,
          json({ type: 'track', event: 'Lead', anonymousId: id(), messageId: `seg-ck-${++n}` }),
          true,
        ),
    ],
    [
      'Snowplow GET',
      (b, h) =>
        fetch(
          `${b}/com.snowplowanalytics.snowplow/i?${new URLSearchParams({ e: 'pv', aid: env, eid: `sp-ck-${++n}`, duid: id(), tv: 'js-4.0.0', url: 'http://shop.test/' })}`,
          { headers: { ...h, origin: ORIGIN } },
        ),
    ],
  ];
}

async function setCookie(res: Promise<Response>): Promise<string> {
  const r = await res;
  await r.arrayBuffer();
  const cookie = r.headers.get('set-cookie');
  expect(cookie, `${r.url} sets ptid`).toMatch(
    /^ptid=[A-Za-z0-9_-]+; Max-Age=31536000; Path=\/; HttpOnly; /,
  );
  return cookie as string;
}

describe('ptid cookie attributes', () => {
  it.each(routes('env_t', 'wk_t'))(
    'CA01 %s over plain HTTP on 127.0.0.1: SameSite=Lax, not Secure',
    async (_n, hit) => {
      const cookie = await setCookie(hit(direct.base, { 'user-agent': UA }));
      expect(cookie).toMatch(/HttpOnly; SameSite=Lax$/);
    },
  );

  it.each(routes('env_t', 'wk_t'))(
    'CA02 %s behind a trusted proxy speaking HTTPS: SameSite=None; Secure',
    async (_n, hit) => {
      const cookie = await setCookie(
        hit(proxied.base, { 'user-agent': UA, 'x-forwarded-proto': 'https' }),
      );
      expect(cookie).toMatch(/HttpOnly; SameSite=None; Secure$/);
    },
  );

  it.each(routes('env_chips', 'wk_chips'))(
    'CA03 %s with cookie_partitioned over HTTPS adds Partitioned; over HTTP not',
    async (_n, hit) => {
      const https = await setCookie(
        hit(proxied.base, { 'user-agent': UA, 'x-forwarded-proto': 'https' }),
      );
      expect(https).toMatch(/HttpOnly; SameSite=None; Secure; Partitioned$/);
      const http = await setCookie(
        hit(proxied.base, { 'user-agent': UA, 'x-forwarded-proto': 'http' }),
      );
      expect(http).toMatch(/HttpOnly; SameSite=Lax$/);
    },
  );

  it('CA04 without trust_proxy a client claiming X-Forwarded-Proto: https still gets the plain-HTTP cookie', async () => {
    const [, hit] = routes('env_t', 'wk_t')[0];
    const cookie = await setCookie(
      hit(direct.base, { 'user-agent': UA, 'x-forwarded-proto': 'https' }),
    );
    expect(cookie).toMatch(/HttpOnly; SameSite=Lax$/);
  });

  it('CA05 a beacon whose events are all denied expires the ptid the browser sent, with the same attributes', async () => {
    const beacon = (base: string, consent: unknown, h: Record<string, string> = {}) =>
      fetch(`${base}/e`, {
        method: 'POST',
        headers: {
          'user-agent': UA,
          'content-type': 'text/plain',
          origin: ORIGIN,
          cookie: 'ptid=withdrawn-abcdef',
          ...h,
        },
        body: JSON.stringify({ event_name: 'Lead', env_id: 'env_chips', consent }),
      });
    const withdrawn = await beacon(direct.base, { ads: false, analytics: false });
    expect(withdrawn.headers.get('set-cookie')).toBe(
      'ptid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax',
    );
    const https = await beacon(proxied.base, { ads: false }, { 'x-forwarded-proto': 'https' });
    expect(https.headers.get('set-cookie')).toMatch(/^ptid=; Max-Age=0;.*Secure; Partitioned$/);
    // Granted, or nothing said under a granted default: the cookie stays.
    expect((await beacon(direct.base, { ads: true })).headers.get('set-cookie')).toBeNull();
    expect((await beacon(direct.base, undefined)).headers.get('set-cookie')).toBeNull();
  });

  it('CA06 under a denied default, a beacon that states nothing keeps the ptid; a stated refusal or GPC expires it', async () => {
    const beacon = (consent: unknown, h: Record<string, string> = {}) =>
      fetch(`${direct.base}/e`, {
        method: 'POST',
        headers: {
          'user-agent': UA,
          'content-type': 'text/plain',
          origin: ORIGIN,
          cookie: 'ptid=consented-abcdef',
          ...h,
        },
        body: JSON.stringify({ event_name: 'PageView', env_id: 'env_eu', consent }),
      });
    // The tag's first PageView before the page's CMP has answered: undecided, not withdrawn.
    expect((await beacon(undefined)).headers.get('set-cookie')).toBeNull();
    expect((await beacon({ ads: false })).headers.get('set-cookie')).toMatch(/^ptid=; Max-Age=0/);
    expect((await beacon(undefined, { 'sec-gpc': '1' })).headers.get('set-cookie')).toMatch(
      /^ptid=; Max-Age=0/,
    );
  });

  it('CA07 a pixel or click whose own consent signals deny expires the ptid the browser sent; no signal keeps it', async () => {
    const pixels = (env: string, extra: string) => [
      `/i?env_id=${env}&dest_id=dsp1&imp_id=IMP-W${++n}${extra}`,
      `/c?env_id=${env}&dest_id=dsp1&click_id=CLK-W${++n}&url=${encodeURIComponent('http://shop.test/')}${extra}`,
      `/p?env_id=${env}&ev=Lead&eid=lead-w-${++n}${extra}`,
    ];
    const hit = async (base: string, path: string, h: Record<string, string> = {}) => {
      const r = await fetch(`${base}${path}`, {
        headers: { 'user-agent': UA, cookie: 'ptid=withdrawn-abcdef', ...h },
        redirect: 'manual',
      });
      await r.arrayBuffer();
      return r.headers.get('set-cookie');
    };
    const denials: [string, string, Record<string, string>][] = [
      ['Sec-GPC', '', { 'sec-gpc': '1' }],
      ['TCF without purpose 1', `&gdpr=1&gdpr_consent=${tcfString([2, 3, 4])}`, {}],
      ['US Privacy opt-out', '&us_privacy=1YYN', {}],
      ['GPP opt-out', `&gpp=${gppString({ usnat: { SaleOptOut: 1, SaleOptOutNotice: 1 } })}`, {}],
    ];
    for (const [why, extra, h] of denials) {
      for (const path of pixels('env_t', extra)) {
        expect(await hit(direct.base, path, h), `${why} on ${path}`).toBe(
          'ptid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax',
        );
      }
      // Over HTTPS with the attributes it was set with, or the browser keeps that one.
      for (const path of pixels('env_chips', extra)) {
        expect(
          await hit(proxied.base, path, { ...h, 'x-forwarded-proto': 'https' }),
          `${why} on ${path}`,
        ).toMatch(/^ptid=; Max-Age=0;.*Secure; Partitioned$/);
      }
    }
    // A grant, no signal at all (even under a denied default: a pixel elsewhere withdraws
    // nothing), or a bot's hit: the cookie stays.
    const kept: [string, string, Record<string, string>][] = [
      ['env_t', `&gdpr=1&gdpr_consent=${tcfString([1, 2, 3, 4])}`, {}],
      ['env_t', '', {}],
      ['env_strict', '', {}],
      ['env_t', '', { 'sec-gpc': '1', 'user-agent': 'Googlebot/2.1' }],
    ];
    for (const [env, extra, h] of kept) {
      for (const path of pixels(env, extra))
        expect(await hit(direct.base, path, h), path).toBeNull();
    }
    for (const path of pixels('env_strict', '&us_privacy=1YYN'))
      expect(await hit(direct.base, path), path).toMatch(/^ptid=; Max-Age=0;/);
  });
});
