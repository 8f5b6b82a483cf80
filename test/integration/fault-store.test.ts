import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import {
  purchase,
  sleep,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const hasPostgres = await postgresAvailable();
const cleanups: Array<() => Promise<void>> = [];
let running: Server | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** Mounts a small tmpfs (root only); null when this machine does not allow it. */
function smallTmpfs(megabytes: number): { dir: string; unmount: () => void } | null {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
  } catch {
    return null;
  }
  return { dir, unmount: () => execFileSync('umount', ['-l', dir], { stdio: 'pipe' }) };
}
const tmpfsProbe = smallTmpfs(1);
tmpfsProbe?.unmount();
if (!tmpfsProbe) console.warn('F05 skipped: this machine does not allow mounting a tmpfs');

/** Fills the file system holding `dir` until it answers ENOSPC; returns the filler. */
function fillDisk(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return file;
}

const PIXEL_PAUSE_MS = 10;
/** The buyers are not the pixel's browsers, so attribution stays cheap under the pixel load. */
const OTHER_BUYER = { ip: '198.51.100.7', user_agent: 'backend' };

interface ApiAnswer {
  id: string;
  status: number;
  retryAfter: string | null;
}

/**
 * Server-API and pixel traffic until `phase()` says stop: one event per request, ids
 * numbered; every answer recorded. Pixel hits all carry a fresh imp_id.
 */
function traffic(base: string, prefix: string) {
  const api: ApiAnswer[] = [];
  const pixels: Array<{ imp: string; status: number }> = [];
  let stop = false;
  let n = 0;
  const apiLane = async () => {
    while (!stop) {
      const id = `${prefix}-${n++}`;
      try {
        const res = await fetch(`${base}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
          body: JSON.stringify({ events: [purchase(id, { user: OTHER_BUYER })] }),
        });
        await res.arrayBuffer();
        api.push({ id, status: res.status, retryAfter: res.headers.get('retry-after') });
      } catch {
        api.push({ id, status: 0, retryAfter: null });
      }
    }
  };
  let p = 0;
  const pixelLane = async () => {
    while (!stop) {
      const imp = `${prefix}-imp-${p++}`;
      const res = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=${imp}`, {
        headers: { 'user-agent': UA },
      });
      await res.arrayBuffer();
      pixels.push({ imp, status: res.status });
      // A steady trickle, not a flood: this test is about faults, not throughput.
      await sleep(PIXEL_PAUSE_MS);
    }
  };
  const lanes = [apiLane(), apiLane(), pixelLane(), pixelLane()];
  return {
    api,
    pixels,
    async stop() {
      stop = true;
      await Promise.all(lanes);
    },
  };
}

/** While the store cannot commit: the pixel answers, the API says 503 with Retry-After. */
async function duringTrouble(base: string, t: ReturnType<typeof traffic>) {
  const from = t.api.length;
  await waitFor(() => t.api.slice(from).some((a) => a.status === 503), 30_000);
  const refused = t.api.slice(from).filter((a) => a.status === 503);
  expect(refused.every((a) => Number(a.retryAfter) > 0)).toBe(true);
  expect((await fetch(`${base}/readyz`)).status).toBe(503);
  const pixelsFrom = t.pixels.length;
  await waitFor(() => t.pixels.length >= pixelsFrom + 20, 30_000);
  expect(t.pixels.every((h) => h.status === 200)).toBe(true);
  return t.pixels.length;
}

async function afterRecovery(base: string, t: ReturnType<typeof traffic>) {
  const from = t.api.length;
  await waitFor(() => t.api.slice(from).some((a) => a.status === 200), 30_000);
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 30_000);
  // Some traffic of both kinds after recovery, counted rather than timed.
  const [apiAt, pixelsAt] = [t.api.length, t.pixels.length];
  await waitFor(() => t.api.length >= apiAt + 4 && t.pixels.length >= pixelsAt + 4, 30_000);
  await t.stop();
  expect(t.pixels.every((h) => h.status === 200)).toBe(true);
  expect(t.api.every((a) => a.status === 200 || a.status === 503)).toBe(true);
}

describe('faults: the database goes away under load', () => {
  it.skipIf(!hasPostgres)(
    'F04 PostgreSQL restarted mid-load: the pixel answers, the API says 503 + Retry-After until it can commit, no acknowledged event lost',
    async () => {
      const db = await freshPostgresDatabase();
      cleanups.push(db.drop);
      const proxy: TcpProxy = await startTcpProxy(
        '127.0.0.1',
        Number(new URL(db.url).port || 5432),
      );
      cleanups.push(() => proxy.close());
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      const { server, base } = await startPixeltrail(
        { ...testConfig('http://127.0.0.1:9/hook'), database_url: viaProxy.toString() },
        tempDir(),
      );
      running = server;
      const t = traffic(base, 'pg');
      await waitFor(() => t.api.filter((a) => a.status === 200).length >= 20, 30_000);
      await proxy.cut();
      const pixelsDuring = await duringTrouble(base, t);
      await proxy.restore();
      await afterRecovery(base, t);
      await server.services.pipeline.flush();

      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const stored = new Map(
          (
            await c.query<{ event_id: string; n: string }>(
              'SELECT event_id, COUNT(*) AS n FROM events GROUP BY event_id',
            )
          ).rows.map((r) => [r.event_id, Number(r.n)]),
        );
        const acked = t.api.filter((a) => a.status === 200);
        expect(acked.filter((a) => stored.get(a.id) !== 1)).toEqual([]);
        const touches = new Set(
          (await c.query<{ touch_id: string }>('SELECT touch_id FROM touches')).rows.map(
            (r) => r.touch_id,
          ),
        );
        // Pixel hits answered while the database was away were kept and written after.
        expect(t.pixels.filter((h) => !touches.has(h.imp))).toEqual([]);
        console.log(
          `F04: ${acked.length} events acknowledged and stored once, ` +
            `${t.api.length - acked.length} answered 503; ${t.pixels.length} pixel hits ` +
            `(${pixelsDuring} by the end of the outage), all stored`,
        );
      } finally {
        await c.end();
      }
    },
    120_000,
  );

  it.skipIf(!tmpfsProbe)(
    'F05 SQLite on a full disk: the pixel answers, the API says 503 + Retry-After, no acknowledged event lost once space is back',
    async () => {
      const fs = smallTmpfs(16);
      if (!fs) throw new Error('tmpfs mount failed');
      cleanups.push(async () => fs.unmount());
      const data = path.join(fs.dir, 'data');
      mkdirSync(data);
      const { server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), data);
      running = server;
      const t = traffic(base, 'sq');
      await waitFor(() => t.api.filter((a) => a.status === 200).length >= 20, 30_000);
      const filler = fillDisk(fs.dir);
      const pixelsDuring = await duringTrouble(base, t);
      rmSync(filler);
      await afterRecovery(base, t);
      await server.services.pipeline.flush();
      await server.close();
      running = undefined;

      const db = new BetterSqlite3(path.join(data, 'pixeltrail.db'), { readonly: true });
      try {
        const stored = new Map(
          (
            db.prepare('SELECT event_id, COUNT(*) AS n FROM events GROUP BY event_id').all() as {
              event_id: string;
              n: number;
            }[]
          ).map((r) => [r.event_id, r.n]),
        );
        const acked = t.api.filter((a) => a.status === 200);
        expect(acked.filter((a) => stored.get(a.id) !== 1)).toEqual([]);
        const touches = new Set(db.prepare('SELECT touch_id FROM touches').pluck().all());
        expect(t.pixels.filter((h) => !touches.has(h.imp))).toEqual([]);
        console.log(
          `F05: ${acked.length} events acknowledged and stored once, ` +
            `${t.api.length - acked.length} answered 503; ${t.pixels.length} pixel hits ` +
            `(${pixelsDuring} by the end of the disk-full period), all stored`,
        );
      } finally {
        db.close();
      }
    },
    120_000,
  );
});
