import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openSqliteStore, SQLITE_FILE } from '../../src/store/sqlite/open-sqlite.js';
import { admin, startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

/** Conversions stored before the server starts: a report over them takes a while to read. */
const CONVERSIONS = 100_000;
const DAY_S = 86_400;

let server: Server;
let base: string;

/** CONVERSIONS conversions of the last 20 days, written straight into a migrated store. */
async function seeded(dataDir: string): Promise<void> {
  const store = openSqliteStore(dataDir);
  await store.migrate();
  await store.close();
  const db = new BetterSqlite3(path.join(dataDir, SQLITE_FILE));
  const insert = db.prepare(
    `insert into conversions (conversion_id, dest_id, env_id, event_pk, event_name, event_id,
       event_time, value, currency, attributed, created_at_ms, attr_type, campaign_id,
       creative_id, match_type, is_test, dedup_row)
     values (?, 'dsp1', 'env_t', ?, 'Purchase', ?, ?, 10, 'EUR', 1, 0, 'click', ?, 'cr', 'deterministic', 0, 1)`,
  );
  const now = Math.floor(Date.now() / 1000);
  db.transaction(() => {
    for (let i = 0; i < CONVERSIONS; i++)
      insert.run(`c${i}`, `pk${i}`, `e${i}`, now - 3600 - (i % (20 * DAY_S)), `camp${i % 40}`);
  })();
  db.close();
}

beforeAll(async () => {
  const dataDir = tempDir();
  await seeded(dataDir);
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), dataDir));
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('reports beside ingest (SQLite)', () => {
  it('RB01 a pixel hit is answered while a long report is read, and the report is whole', async () => {
    // The server's SQLite store, whose read thread the test keeps busy.
    const store = server.services.store as KyselyStore;
    const reportCounts = store.reportCounts;
    let started!: () => void;
    const reading = new Promise<void>((resolve) => {
      started = resolve;
    });
    // The route asks the store when the report's reads begin; the pixel is sent then.
    Object.defineProperty(store, 'reportCounts', {
      value: (...a: Parameters<typeof reportCounts>) => {
        started();
        return reportCounts(...a);
      },
    });
    const answered: string[] = [];
    // The thread is busy with a long read first, whatever this box's speed: the report waits
    // for it there. On the main connection the report would hold the event loop instead.
    const busy =
      sql`with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000000) select count(*) from c`.execute(
        store.readDb,
      );
    const report = admin(base, '/api/reports?env_id=env_t&group_by=campaign').then((r) => {
      answered.push('report');
      return r;
    });
    await reading;
    const pixel = fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=RB01`, {
      headers: { 'user-agent': UA },
    }).then((r) => {
      answered.push('pixel');
      return r;
    });
    const [r, p] = await Promise.all([report, pixel, busy]);
    // A report read on the event loop would hold the pixel's answer until the report's end.
    expect(answered).toEqual(['pixel', 'report']);
    expect(p.status).toBe(200);
    expect(r.status).toBe(200);
    expect(r.body.totals.conversions).toBe(CONVERSIONS);
    // 40 campaigns; the pixel's impression (no campaign) may have been counted meanwhile.
    expect(r.body.rows.filter((row: { conversions: number }) => row.conversions > 0)).toHaveLength(
      40,
    );
  });

  it('RB02 counts read on the thread see what the pipeline committed just before', async () => {
    await server.services.pipeline.flush();
    const before = (await admin(base, '/api/stats?env_id=env_t')).body;
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=RB02`, {
      headers: { 'user-agent': UA },
    });
    await server.services.pipeline.flush();
    const after = (await admin(base, '/api/stats?env_id=env_t')).body;
    expect(after.impressions).toBe(before.impressions + 1);
    expect(after.conversions).toBe(CONVERSIONS);
  });
});
