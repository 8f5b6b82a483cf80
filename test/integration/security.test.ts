/**
 * No open doors (issue 6): keys compared in constant time and rotatable, write keys only write,
 * the dashboard session cookie with CSRF, rate limits, body limits, security headers, CORS,
 * cookie attributes and expiring signed click links — against a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signClick } from '../../src/domain/click-link.js';
import type { Server } from '../../src/server.js';
import { postEvents, startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

let hook: Receiver;
let server: Server;
let base: string;

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  const cfg = testConfig(`${hook.url}/hook`, {}, { previous_write_keys: ['wk_old'] });
  ({ server, base } = await startPixeltrail(
    {
      ...cfg,
      previous_admin_tokens: ['adm_old'],
      rate_limit: { per_ip: 1000, per_key: 40 },
    },
    tempDir(),
  ));
});
afterAll(async () => {
  await server?.close();
  await hook?.close();
});

const api = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, init);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('keys', () => {
  it('S01 a write key cannot read the admin API; old and new admin tokens both work', async () => {
    expect((await api('/api/stats', { headers: bearer('wk_t') })).status).toBe(401);
    expect((await api('/api/stats', { headers: bearer('adm') })).status).toBe(200);
    expect((await api('/api/stats', { headers: bearer('adm_old') })).status).toBe(200);
    expect((await api('/api/stats', { headers: bearer('adm-wrong') })).status).toBe(401);
  });

  it('S02 during a rotation the previous write key is accepted too; others are 401', async () => {
    const ev = { event_name: 'Lead', event_id: 'lead-rot', properties: {} };
    expect((await postEvents(base, [ev], 'wk_old')).status).toBe(200);
    expect((await postEvents(base, [ev], 'wk_t')).status).toBe(200);
    expect((await postEvents(base, [ev], 'wk_t ')).status).toBe(200);
    expect((await postEvents(base, [ev], 'adm')).status).toBe(401);
  });
});

describe('dashboard session', () => {
  it('S03 the session cookie is HttpOnly and SameSite=Strict; state changes need the CSRF token', async () => {
    const bad = await api('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'nope' }),
    });
    expect(bad.status).toBe(401);
    const login = await api('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'adm' }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^pt_session=[^;]+;.*HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const cookie = setCookie.split(';')[0];
    expect((await api('/api/stats', { headers: { cookie } })).status).toBe(200);
    const replay = (headers: Record<string, string>) =>
      api('/api/replay', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ env_id: 'env_t', dest_id: 'dsp1', from: '0', to: '1' }),
      });
    const noCsrf = await replay({});
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: { code: string } }).error.code).toBe('csrf');
    expect((await replay({ 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await replay({ 'x-csrf-token': csrf_token })).status).toBe(200);
    const tampered = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await api('/api/stats', { headers: { cookie: tampered } })).status).toBe(401);
    const logout = await api('/api/session', { method: 'DELETE' });
    expect(logout.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });

  it('S04 dashboard and API answers carry security headers', async () => {
    const res = await api('/api/stats', { headers: bearer('adm') });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const ui = await api('/ui/');
    expect(ui.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('S04b percent-encoded paths get the same headers as the path they are routed to', async () => {
    for (const path of ['/%61pi/stats', '/api/%73tats', '/%61pi/nope', '/%61pi/stats%ZZ']) {
      const res = await api(path, { headers: bearer('adm') });
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('cache-control'), path).toBe('no-store');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
    const stats = await api('/%61pi/stats', { headers: bearer('adm') });
    expect(stats.status).toBe(200);
    const ui = await api('/%75i/');
    expect(ui.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('limits', () => {
  it('S05 bodies over the route limit are 413 (64 KB on /api, 1 MB on /v1/events); the beacon answers 204 and counts them', async () => {
    const big = 'x'.repeat(70 * 1024);
    const beacon = await api('/e', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: big,
    });
    expect(beacon.status).toBe(204);
    const metrics = await (await api('/metrics')).text();
    expect(metrics).toMatch(/pixeltrail_invalid_hits_total\{endpoint="e",reason="too_large"\} 1\b/);
    const session = await api('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: big }),
    });
    expect(session.status).toBe(413);
    const events = await api('/v1/events', {
      method: 'POST',
      headers: { ...bearer('wk_t'), 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ event_name: 'Lead', properties: { pad: big } }] }),
    });
    expect(events.status).toBe(200);
  });

  it('S06 a key over its rate limit gets 429 with Retry-After; pixels still get their GIF', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await api('/api/stats', { headers: bearer('adm_old') });
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = (await (limited as Response).json()) as { error: { code: string } };
    expect(body.error.code).toBe('rate_limited');
  });
});

describe('browser-facing doors', () => {
  it('S07 CORS on /e only for the environment allowed origins, its preflight naming methods and headers; /v1/events has none and needs the key', async () => {
    const pre = (origin: string) =>
      api('/e', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const allowed = (await pre('http://shop.test')).headers;
    expect(allowed.get('access-control-allow-origin')).toBe('http://shop.test');
    // What the browser may send, and for how long it may keep this answer: the preflight's.
    expect(allowed.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(allowed.get('access-control-allow-headers')).toContain('content-type');
    expect(allowed.get('access-control-max-age')).toBe('600');
    const refused = (await pre('http://evil.test')).headers;
    expect(refused.get('access-control-allow-origin')).toBeNull();
    expect(refused.get('access-control-allow-methods')).toBeNull();
    const v1 = await api('/v1/events', {
      method: 'POST',
      headers: { origin: 'http://shop.test', 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ event_name: 'Lead' }] }),
    });
    expect(v1.status).toBe(401);
    expect(v1.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('S08 an expiring signed click link redirects before its exp and is refused after', async () => {
    const link = (exp: number) => {
      const params = {
        env_id: 'env_t',
        dest_id: 'dsp1',
        click_id: `CLK-EXP-${exp}`,
        url: 'https://anywhere.example/landing',
        exp: String(exp),
      };
      return `/c?${new URLSearchParams({ ...params, sig: signClick('wk_t', params) })}`;
    };
    const now = Math.floor(Date.now() / 1000);
    const ok = await api(link(now + 3600), { redirect: 'manual', headers: { 'user-agent': UA } });
    expect(ok.status).toBe(302);
    const old = await api(link(now - 10), { redirect: 'manual', headers: { 'user-agent': UA } });
    expect(old.status).toBe(400);
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe('link_expired');
    const made = await api('/api/click-links?env_id=env_t&url=https://x.example/&ttl=1h', {
      headers: bearer('adm'),
    });
    expect(((await made.json()) as { url: string }).url).toMatch(/[?&]exp=\d+/);
  });

  it('S09 the ptid cookie is HttpOnly; SameSite=Lax over plain HTTP, localhost included', async () => {
    const res = await api('/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-S9', {
      headers: { 'user-agent': UA },
    });
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Lax$/);
  });
});
