import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { admin, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();

const DAY_S = 86_400;
const nowS = () => Math.floor(Date.now() / 1000);

/** Three sales of the shop's till: one 20 days old, one without an order id. */
function tillCsv(): string {
  return [
    'order_id,time,value,currency,email,gclid',
    `T-1,${nowS() - 20 * DAY_S},49.90,EUR,ann@example.com,Cj0-abc`,
    `T-2,${new Date((nowS() - 3600) * 1000).toISOString()},12.50,EUR,bob@example.com,`,
    `,${nowS()},5,EUR,eve@example.com,`,
  ].join('\n');
}

async function upload(base: string, csv: string, query = '') {
  const res = await fetch(`${base}/api/imports?env_id=env_t${query}`, {
    method: 'POST',
    headers: { authorization: 'Bearer adm', 'content-type': 'text/csv' },
    body: csv,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: safeJson(text) };
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

describe('offline conversions import (issue 20 §4)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    ({ server, base } = await startPixeltrail(
      testConfig('http://127.0.0.1:9/hook', { attributed_only: false }),
      tempDir(),
    ));
  });
  afterAll(async () => {
    await server.close();
  });

  it('IMI01 POST /api/imports stores each valid row and names each bad one by line and field', async () => {
    const r = await upload(base, tillCsv());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rows: 3, accepted: 2, duplicates: 0, refused_rows: 1 });
    expect(r.body.errors).toEqual([
      { line: 4, field: 'order_id', message: 'is required (or event_id): it deduplicates' },
    ]);
    const conversions = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions;
    expect(conversions.map((c: { event_id: string }) => c.event_id).sort()).toEqual(['T-1', 'T-2']);
  });

  it('IMI02 the same file again adds nothing', async () => {
    const r = await upload(base, tillCsv());
    expect(r.body).toMatchObject({ rows: 3, accepted: 0, duplicates: 2 });
    const conversions = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions;
    expect(conversions).toHaveLength(2);
  });

  it('IMI03 ?errors=csv answers the error report as a file to download', async () => {
    const r = await upload(base, tillCsv(), '&errors=csv');
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/attachment/);
    expect(r.text).toBe(
      'line,field,message\n4,order_id,is required (or event_id): it deduplicates\n',
    );
  });

  it('IMI06 the health page scores each destination per event name by what it receives', async () => {
    const health = (await admin(base, '/api/health?env_id=env_t')).body;
    const q = health.destinations.find(
      (d: { dest_id: string }) => d.dest_id === 'dsp1',
    ).match_quality;
    expect(q.by_event.Purchase).toMatchObject({ sample: 2, coverage: { email: 1 } });
    expect(q.advice[0].gain).toBeGreaterThanOrEqual(q.advice.at(-1).gain);
  });

  it('IMI04 a body that is not CSV, an unknown environment or no token are refused in JSON', async () => {
    const json = await fetch(`${base}/api/imports?env_id=env_t`, {
      method: 'POST',
      headers: { authorization: 'Bearer adm', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(415);
    expect((await json.json()).errors[0].field).toBe('body');
    const unknown = await fetch(`${base}/api/imports?env_id=nope`, {
      method: 'POST',
      headers: { authorization: 'Bearer adm', 'content-type': 'text/csv' },
      body: 'order_id,time\n',
    });
    expect(unknown.status).toBe(404);
    const anon = await fetch(`${base}/api/imports?env_id=env_t`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'order_id,time\n',
    });
    expect(anon.status).toBe(401);
  });
});

// The 48 h dedup window forgets an event id; the import ledger does not (issue 20 §4).
for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`re-import after 72 h on ${kind}`, () => {
    const T0 = Date.now();
    let now = T0;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      const opened = await open();
      dispose = opened.dispose;
      ({ server, base } = await startPixeltrail(
        testConfig('http://127.0.0.1:9/hook', { attributed_only: false }),
        tempDir(),
        { store: opened.store, nowMs: () => now },
      ));
    });
    afterAll(async () => {
      await server?.close();
      await dispose?.();
    });

    it('IMI07 the same file 72 h later adds nothing and says how many rows were already there', async () => {
      const t = Math.floor(T0 / 1000);
      const csv = [
        'order_id,time,value,currency,email',
        `R-1,${t - 2 * DAY_S},49.90,EUR,ann@example.com`,
        `R-2,${t - 3600},12.50,EUR,bob@example.com`,
      ].join('\n');
      expect((await upload(base, csv)).body).toMatchObject({ accepted: 2, duplicates: 0 });
      now = T0 + 72 * 3600 * 1000;
      // A third row is new: the file grew since, and only it goes in.
      const grown = `${csv}\nR-3,${t},5,EUR,eve@example.com`;
      const again = await upload(base, grown);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ rows: 3, accepted: 1, duplicates: 2, refused_rows: 0 });
      const conversions = (await admin(base, '/api/conversions?env_id=env_t')).body.conversions;
      expect(conversions.map((c: { event_id: string }) => c.event_id).sort()).toEqual([
        'R-1',
        'R-2',
        'R-3',
      ]);
    });
  });
}

describe('pixeltrail import conversions FILE.csv', () => {
  it('IMI05 imports with a progress bar, writes the refused rows next to the file, adds nothing twice', () => {
    const dir = tempDir();
    const config = path.join(dir, 'pixeltrail.json');
    writeFileSync(config, JSON.stringify(testConfig('http://127.0.0.1:9/hook')));
    const file = path.join(dir, 'till.csv');
    writeFileSync(file, tillCsv());
    const run = () => {
      try {
        const out = execFileSync('node', ['dist/cli.js', 'import', 'conversions', file], {
          env: { ...process.env, PIXELTRAIL_CONFIG: config, PIXELTRAIL_DATA: dir },
          stdio: 'pipe',
        });
        return { code: 0, out: out.toString() };
      } catch (e) {
        const err = e as { status: number; stdout: Buffer; stderr: Buffer };
        return { code: err.status, out: err.stdout.toString(), err: err.stderr.toString() };
      }
    };
    const first = run();
    expect(first.code).toBe(1);
    expect(first.out).toContain('3 rows, 2 new, 0 already there, 1 refused');
    expect(first.err).toMatch(/import.*100%|import \[#+\]/);
    expect(readFileSync(`${file}.errors.csv`, 'utf8')).toContain('4,order_id,is required');
    const second = run();
    expect(second.out).toContain('3 rows, 0 new, 2 already there, 1 refused');
  });
});
