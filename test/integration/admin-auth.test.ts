/**
 * Admin authentication hardening (issue 18, items 3 and 7): one auth hook for every admin
 * route, logout that revokes the session, rate limits that invented keys cannot escape, and
 * the lockout of an address that keeps failing — against a real server (Fastify's inject,
 * so that each request can come from an address of its own).
 */
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { createServer } from '../../src/server.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

const ATTACKER = '198.51.100.7';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** A server on a stepped clock whose routes are recorded as they are registered. */
async function steppedServer(raw: Record<string, unknown>) {
  let now = Date.UTC(2026, 0, 5, 12);
  const { config, errors } = parseConfig(raw, {
    port: 0,
    host: '127.0.0.1',
    data_dir: tempDir(),
  });
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const server = await createServer(config, { nowMs: () => now });
  const routes: RouteOptions[] = [];
  server.app.addHook('onRoute', (r) => void routes.push(r));
  await server.app.ready();
  return {
    server,
    routes,
    step: (ms: number) => {
      now += ms;
    },
  };
}

describe('one admin check', () => {
  let s: Awaited<ReturnType<typeof steppedServer>>;
  beforeAll(async () => {
    s = await steppedServer({
      ...testConfig('http://127.0.0.1:9/hook'),
      previous_admin_tokens: ['adm_previous_token_1'],
      // A01 fails on purpose many times; the lockout is A04's and A05's subject.
      rate_limit: { auth_failures: 0 },
    });
  });
  afterAll(async () => s.server.close());

  it('A01 every /api/ route but the login answers 401 without a credential and with a wrong one', async () => {
    const admin = s.routes.filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD');
    expect(admin.length).toBeGreaterThan(40);
    const open: string[] = [];
    for (const r of admin) {
      const url = r.url.replace(/:[a-z_]+/g, 'x').replace('*', 'x');
      for (const method of [r.method].flat()) {
        if (url === '/api/session') continue;
        for (const headers of [{}, bearer('wk_t'), bearer('adm-wrong')]) {
          const res = await s.server.app.inject({ method, url, headers });
          if (res.statusCode !== 401) open.push(`${method} ${url} ${res.statusCode}`);
        }
      }
    }
    expect(open).toEqual([]);
  });

  it('A02 the trigger routes take the previous admin token and the dashboard session with its CSRF token', async () => {
    const url = '/api/environments/env_t/triggers';
    const app = s.server.app;
    expect((await app.inject({ url, headers: bearer('adm_previous_token_1') })).statusCode).toBe(
      200,
    );
    const login = await app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: 'adm' },
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const csrf = login.json().csrf_token as string;
    expect((await app.inject({ url, headers: { cookie } })).statusCode).toBe(200);
    const put = (headers: Record<string, string>) =>
      app.inject({ method: 'PUT', url, headers: { cookie, ...headers }, payload: { rules: [] } });
    expect((await put({})).statusCode).toBe(403);
    expect((await put({ 'x-csrf-token': csrf })).statusCode).toBe(200);
  });

  it('A03 logging out revokes the session: a copy of the cookie stops working', async () => {
    const app = s.server.app;
    const login = await app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: 'adm' },
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    expect((await app.inject({ url: '/api/stats', headers: { cookie } })).statusCode).toBe(200);
    const out = await app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^pt_session=; Max-Age=0/);
    expect((await app.inject({ url: '/api/stats', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/session', headers: { cookie } })).json()).toEqual({
      authenticated: false,
    });
    // Another session of the same admin is not affected.
    const again = await app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: 'adm' },
    });
    const other = String(again.headers['set-cookie']).split(';')[0];
    expect((await app.inject({ url: '/api/stats', headers: { cookie: other } })).statusCode).toBe(
      200,
    );
  });
});

describe('rate limits and failed authentications', () => {
  it('A04 1,000 invented admin tokens from a rate-limited address: 401 until the lockout, then 429 with Retry-After', async () => {
    const s = await steppedServer({
      ...testConfig('http://127.0.0.1:9/hook'),
      rate_limit: { per_ip: 100, per_key: 100_000, auth_failures: 10 },
    });
    const statuses = new Map<number, number>();
    let retryAfter = '';
    for (let i = 0; i < 1000; i++) {
      const res = await s.server.app.inject({
        url: '/api/stats',
        headers: bearer(`guess-${i}`),
        remoteAddress: ATTACKER,
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 429) retryAfter = String(res.headers['retry-after']);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 10, 429: 990 });
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // The right token from that address is not even checked during the lockout…
    const right = await s.server.app.inject({
      url: '/api/stats',
      headers: bearer('adm'),
      remoteAddress: ATTACKER,
    });
    expect(right.statusCode).toBe(429);
    expect(right.json().error.code).toBe('auth_locked');
    // …while everyone else is served.
    const other = await s.server.app.inject({
      url: '/api/stats',
      headers: bearer('adm'),
      remoteAddress: '203.0.113.20',
    });
    expect(other.statusCode).toBe(200);
    await s.server.close();
  });

  it('A05 each next lockout of an address that keeps failing lasts twice as long', async () => {
    const s = await steppedServer({
      ...testConfig('http://127.0.0.1:9/hook'),
      rate_limit: { per_ip: 0, per_key: 0, auth_failures: 3 },
    });
    const guess = () =>
      s.server.app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { token: 'wrong-guess' },
        remoteAddress: ATTACKER,
      });
    const lockouts: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) expect((await guess()).statusCode).toBe(401);
      const locked = await guess();
      expect(locked.statusCode).toBe(429);
      lockouts.push(String(locked.headers['retry-after']));
      s.step(Number(locked.headers['retry-after']) * 1000);
    }
    expect(lockouts).toEqual(['60', '120', '240']);
    await s.server.close();
  });

  it('A06 an invented key counts against the address; a key that verifies has a bucket of its own', async () => {
    const { server, base } = await startPixeltrail(
      {
        ...testConfig('http://127.0.0.1:9/hook'),
        rate_limit: { per_ip: 10, per_key: 1000, auth_failures: 0 },
      },
      tempDir(),
    );
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++)
      statuses.push((await fetch(`${base}/api/stats`, { headers: bearer(`nope-${i}`) })).status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(10);
    expect(statuses.filter((x) => x === 429)).toHaveLength(5);
    // The address is over its limit; the admin token and a write key still get through.
    expect((await fetch(`${base}/api/stats`, { headers: bearer('adm') })).status).toBe(200);
    const events = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('wk_t') },
      body: JSON.stringify({ events: [] }),
    });
    expect(events.status).not.toBe(429);
    await server.close();
  });
});

describe('weak admin token', () => {
  it('A07 a server listening beyond loopback with a weak admin token refuses to start', async () => {
    const { config } = parseConfig(
      { ...testConfig('http://127.0.0.1:9/hook'), admin_token: 'change-me' },
      { port: 0, host: '0.0.0.0', data_dir: tempDir() },
    );
    await expect(createServer(config)).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 with a weak admin token: the admin token is an example value/,
    );
  });

  it('A08 on loopback it starts, and says the token is weak', async () => {
    const lines: string[] = [];
    const { server } = await startPixeltrail(
      { ...testConfig('http://127.0.0.1:9/hook'), log_level: 'warn' },
      tempDir(),
      { logStream: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream },
    );
    await server.close();
    expect(lines.join('')).toMatch(
      /the admin token is shorter than 16 characters: fine on loopback only/,
    );
  });
});
