import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { createServer, type Server, type ServerOptions } from '../../src/server.js';

export const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

/** A fresh data folder under the OS temp dir. */
export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'pt-test-'));
}

/** The config of DESIGN §4 with one webhook destination; `dest` overrides its fields. */
export function testConfig(
  hookUrl: string,
  dest: Record<string, unknown> = {},
  env: Record<string, unknown> = {},
) {
  return {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Test shop',
        write_key: 'wk_t',
        allowed_origins: ['http://shop.test'],
        click_url_hosts: ['shop.example'],
        destinations: [
          {
            id: 'dsp1',
            type: 'webhook',
            url: hookUrl,
            secret: 's3cret',
            events: ['Purchase', 'Lead'],
            click_window: '7d',
            view_window: '1d',
            retry: { base_delay: '100ms' },
            timeout: '2s',
            ...dest,
          },
        ],
        ...env,
      },
    ],
  };
}

/**
 * The config with `merge_window: 0` on every destination that names none: tests expect a
 * conversion to leave at once unless they test the merge window (default 30 s), and then they
 * name it. The harness's default, made explicit here rather than in each test.
 */
export function sendAtOnce<T>(raw: T): T {
  const o = raw as { environments?: Array<{ destinations?: Array<Record<string, unknown>> }> };
  if (!Array.isArray(o?.environments)) return raw;
  return {
    ...o,
    environments: o.environments.map((env) =>
      Array.isArray(env?.destinations)
        ? {
            ...env,
            destinations: env.destinations.map((d) =>
              typeof d === 'object' && d !== null && !('merge_window' in d)
                ? { ...d, merge_window: 0 }
                : d,
            ),
          }
        : env,
    ),
  } as T;
}

/** Starts pixeltrail in this process on a free port over the data folder. */
export async function startPixeltrail(
  raw: unknown,
  dataDir: string,
  opts: ServerOptions = {},
): Promise<{ server: Server; base: string }> {
  const { config, errors } = parseConfig(sendAtOnce(raw), {
    port: 0,
    host: '127.0.0.1',
    data_dir: dataDir,
  });
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const server = await createServer(config, opts);
  const base = await server.listen();
  return { server, base };
}

/**
 * startPixeltrail for a test file whose servers are closed after each test (its afterEach is
 * registered by this call, at the top of the file).
 */
export function startedPerTest(): typeof startPixeltrail {
  let running: Server[] = [];
  afterEach(async () => {
    for (const s of running) await s.close();
    running = [];
  });
  return async (raw, dataDir, opts) => {
    const started = await startPixeltrail(raw, dataDir, opts);
    running.push(started.server);
    return started;
  };
}

/** POSTs one `event_name` of user `user_id` to env_t, now, and expects it taken. */
export async function postUserEvent(base: string, event_name: string, user_id: string) {
  const r = await postEvents(base, [
    {
      event_id: `${event_name}-${user_id}-${Math.random()}`,
      event_name,
      event_time: Math.floor(Date.now() / 1000),
      env_id: 'env_t',
      user: { user_id },
    },
  ]);
  expect(r.body.errors).toEqual([]);
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => T | Promise<T>, ms = 10_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs a `/v1/events` batch. */
export async function postEvents(
  base: string,
  events: unknown[],
  key = 'wk_t',
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ events }),
  });
  return { status: res.status, body: await res.json() };
}

/** GETs an admin endpoint with the test admin token. */
export async function admin(
  base: string,
  pathAndQuery: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers: {
      authorization: 'Bearer adm',
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

/** A purchase from the shop's backend, by the same browser as the pixel hits. */
export function purchase(event_id: string, extra: Record<string, unknown> = {}) {
  return {
    event_name: 'Purchase',
    event_id,
    env_id: 'env_t',
    user: { ip: '127.0.0.1', user_agent: UA },
    properties: { value: 49.9, currency: 'EUR' },
    ...extra,
  };
}

/** The value of one Prometheus sample on `/metrics` (the first whose labels include `labels`), or 0. */
export async function metricValue(base: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}
