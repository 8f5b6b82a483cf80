import { statSync } from 'node:fs';
import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KyselyMaintenance, type WalCheckpoint } from '../../src/store/kysely/maintenance.js';
import { DEDUP_WINDOW_ROWS, PURGE_BATCH_ROWS } from '../../src/store/kysely/purge-in-batches.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { PurgeCutoffs } from '../../src/store/records.js';
import { watchStatements } from '../helpers/statement-turns.js';
import { STORE_KINDS } from '../helpers/stores.js';

const NOW_S = 1_800_000_000;
const DAY_S = 86_400;
const NOW_MS = NOW_S * 1000;
const EXPIRED = PURGE_BATCH_ROWS * 2 + PURGE_BATCH_ROWS / 2;
const KEPT = 300;
const ENVS = ['env_a', 'env_b', 'env_c'];
/** Expired events in each environment: more than one batch in each. */
const EVENTS_EXPIRED = PURGE_BATCH_ROWS + PURGE_BATCH_ROWS / 2;
/** Dedup keys: two full windows and a part, every other one expired. */
const DEDUP_KEYS = DEDUP_WINDOW_ROWS * 2 + DEDUP_WINDOW_ROWS / 2;
const CUTOFFS = {
  touches_before_s: NOW_S - 90 * DAY_S,
  events_before_ms: NOW_MS - 400 * DAY_S * 1000,
  dedup_before_s: NOW_S - 2 * DAY_S,
};

let store: KyselyStore;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ store, dispose } = await STORE_KINDS.sqlite());
  const touch = (i: number, time: number) => ({
    env_id: 'env',
    kind: 'impression',
    touch_id: `t${i}`,
    dest_id: 'd1',
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id: `a${i}`,
    user_id: null,
    ip: '203.0.113.9',
    user_agent: 'UA',
    traffic: null,
    traffic_source: null,
  });
  const rows = [
    ...Array.from({ length: EXPIRED }, (_, i) => touch(i, NOW_S - 100 * DAY_S + i)),
    ...Array.from({ length: KEPT }, (_, i) => touch(EXPIRED + i, NOW_S - i)),
  ];
  for (let at = 0; at < rows.length; at += 500)
    await store.db
      .insertInto('touches')
      .values(rows.slice(at, at + 500))
      .execute();
  const event = (env_id: string, i: number, received_at_ms: number) => ({
    pk: `${env_id}:${i}`,
    env_id,
    event_name: 'PageView',
    event_id: `e${i}`,
    event_time: Math.floor(received_at_ms / 1000),
    received_at_ms,
    source: 'server',
    anonymous_id: `a${i}`,
    user_id: null,
    value: null,
    currency: null,
    data: '{}',
    duplicate_count: 0,
    traffic: null,
  });
  const events = ENVS.flatMap((env) => [
    ...Array.from({ length: EVENTS_EXPIRED }, (_, i) =>
      event(env, i, CUTOFFS.events_before_ms - 1 - i),
    ),
    ...Array.from({ length: KEPT }, (_, i) => event(env, EVENTS_EXPIRED + i, NOW_MS - i)),
  ]);
  for (let at = 0; at < events.length; at += 500)
    await store.db
      .insertInto('events')
      .values(events.slice(at, at + 500))
      .execute();
  const keys = Array.from({ length: DEDUP_KEYS }, (_, i) => ({
    env_id: ENVS[i % ENVS.length] as string,
    event_name: 'Purchase',
    event_id: `k${i}`,
    event_pk: `p${i}`,
    first_seen: i % 2 === 0 ? CUTOFFS.dedup_before_s - 1 : CUTOFFS.dedup_before_s,
  }));
  for (let at = 0; at < keys.length; at += 500)
    await store.db
      .insertInto('dedup_keys')
      .values(keys.slice(at, at + 500))
      .execute();
});

/** The query plan of one statement as SQLite would run it, a line per step. */
async function plan(q: CompiledQuery): Promise<string[]> {
  const r = await store.db.executeQuery<{ detail: string }>(
    CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
  );
  return r.rows.map((row) => row.detail);
}

afterAll(async () => {
  await dispose?.();
});

interface DeleteRun {
  table: string;
  rows: number;
  turn: number;
}

/** Runs a purge, noting each delete statement it sent: its table, rows deleted, and turn. */
async function watchedPurge(c: PurgeCutoffs) {
  const { value: report, sent } = await watchStatements(store.db, () => store.purge(c));
  const deletes = sent.flatMap((s) => {
    const table = /^\s*delete from "?(\w+)"?/i.exec(s.sql)?.[1];
    return table ? [{ table, rows: s.rows, turn: s.turn }] : [];
  });
  return { report, deletes };
}

/**
 * The statements that deleted rows of `table`: each deleted at most `most` rows, and the event
 * loop turned between each and the next (one statement for all would hold it throughout).
 */
function expectBatches(deletes: DeleteRun[], table: string, most: number, atLeast: number) {
  // A statement that found nothing left (the last of a table) holds the loop for no time.
  const mine = deletes.filter((d) => d.table === table && d.rows > 0);
  expect(mine.length).toBeGreaterThanOrEqual(atLeast);
  expect(Math.max(...mine.map((d) => d.rows))).toBeLessThanOrEqual(most);
  for (let i = 1; i < mine.length; i++)
    expect(mine[i]?.turn ?? 0).toBeGreaterThan(mine[i - 1]?.turn ?? 0);
}

describe('retention purge on SQLite', () => {
  it('PB01 deletes every expired touch a batch at a time, the event loop turning between batches', async () => {
    const { report, deletes } = await watchedPurge({
      ...CUTOFFS,
      events_before_ms: 0,
      dedup_before_s: 0,
    });
    expect(report.touches).toBe(EXPIRED);
    const left = await store.db.selectFrom('touches').select(['time']).execute();
    expect(left).toHaveLength(KEPT);
    expect(left.every((t) => t.time >= NOW_S - 90 * DAY_S)).toBe(true);
    expectBatches(deletes, 'touches', PURGE_BATCH_ROWS, Math.ceil(EXPIRED / PURGE_BATCH_ROWS));
  });

  it('PB02 deletes the expired events of each environment a batch at a time; later events stay', async () => {
    const { report, deletes } = await watchedPurge({ ...CUTOFFS, dedup_before_s: 0 });
    expect(report.events).toBe(ENVS.length * EVENTS_EXPIRED);
    const left = await store.db.selectFrom('events').select(['env_id', 'received_at_ms']).execute();
    expect(left).toHaveLength(ENVS.length * KEPT);
    expect(left.every((e) => e.received_at_ms >= CUTOFFS.events_before_ms)).toBe(true);
    expectBatches(deletes, 'events', PURGE_BATCH_ROWS, ENVS.length * 2);
  });

  it('PB03 deletes the expired dedup keys a window at a time; keys still in their 48 hours stay', async () => {
    const { report, deletes } = await watchedPurge(CUTOFFS);
    expect(report.dedup_keys).toBe(Math.ceil(DEDUP_KEYS / 2));
    const left = await store.db.selectFrom('dedup_keys').select(['first_seen']).execute();
    expect(left).toHaveLength(Math.floor(DEDUP_KEYS / 2));
    expect(left.every((k) => k.first_seen >= CUTOFFS.dedup_before_s)).toBe(true);
    expectBatches(
      deletes,
      'dedup_keys',
      DEDUP_WINDOW_ROWS,
      Math.ceil(DEDUP_KEYS / DEDUP_WINDOW_ROWS),
    );
  });

  it('PB04 no statement of the purge reads a whole table (each finds its rows on an index)', async () => {
    const main = vi.spyOn(store.db.getExecutor(), 'executeQuery');
    try {
      await store.purge(CUTOFFS);
      const queries = main.mock.calls.map(([q]) => q);
      main.mockRestore();
      expect(queries.length).toBeGreaterThan(5);
      const scans: string[] = [];
      for (const q of queries) {
        if (!/^\s*(select|delete|update)/i.test(q.sql)) continue;
        // One row an environment and hour: read whole (postbacks.ts).
        for (const step of await plan(q))
          if (/^SCAN (?!apple_postback_samples)/.test(step)) scans.push(`${step}: ${q.sql}`);
      }
      expect(scans).toEqual([]);
    } finally {
      main.mockRestore();
    }
  });

  it('PB05 the WAL is emptied after a purge by the checkpointer thread, not on the event loop', async () => {
    await store.db
      .insertInto('touches')
      .values({
        env_id: 'env',
        kind: 'impression',
        touch_id: 'old',
        time: CUTOFFS.touches_before_s - 1,
      })
      .execute();
    const [{ file }] = (await sql<{ file: string }>`pragma database_list`.execute(store.db))
      .rows as [{ file: string }];
    const main = vi.spyOn(store.db.getExecutor(), 'executeQuery');
    try {
      const report = await store.purge(CUTOFFS);
      expect(report.touches).toBe(1);
      expect(main.mock.calls.filter(([q]) => /wal_checkpoint/i.test(q.sql))).toEqual([]);
    } finally {
      main.mockRestore();
    }
    // Truncated: the old page images of the deleted rows are gone from the WAL file.
    expect(statSync(`${file}-wal`).size).toBe(0);
  });

  it('PB06 a truncation the thread never finds room for is not forced on the event loop: it is logged, and the next purge tries it again', async () => {
    let free = false;
    const asked: string[] = [];
    const warnings: string[] = [];
    const wal = {
      run: async (mode: 'PASSIVE' | 'TRUNCATE'): Promise<WalCheckpoint> => {
        asked.push(mode);
        return mode === 'TRUNCATE' && !free
          ? { busy: 1, log: 10, checkpointed: 10 }
          : { busy: 0, log: 0, checkpointed: 0 };
      },
      warn: (m: string) => warnings.push(m),
    };
    const m = new KyselyMaintenance(store.db, 'sqlite', undefined, wal, { tries: 3, waitMs: 1 });
    await store.db
      .insertInto('touches')
      .values({
        env_id: 'env',
        kind: 'impression',
        touch_id: 'pb06',
        time: CUTOFFS.touches_before_s - 1,
      })
      .execute();
    const main = vi.spyOn(store.db.getExecutor(), 'executeQuery');
    try {
      expect((await m.purge(CUTOFFS)).touches).toBe(1);
      expect(main.mock.calls.filter(([q]) => /wal_checkpoint/i.test(q.sql))).toEqual([]);
    } finally {
      main.mockRestore();
    }
    expect(asked.filter((a) => a === 'TRUNCATE')).toHaveLength(3);
    expect(warnings).toHaveLength(1);
    // Nothing expires in the next hour, yet the truncation it owes is tried again.
    free = true;
    asked.length = 0;
    expect((await m.purge(CUTOFFS)).touches).toBe(0);
    expect(asked).toContain('TRUNCATE');
    // Done: the hour after owes nothing.
    asked.length = 0;
    await m.purge(CUTOFFS);
    expect(asked).not.toContain('TRUNCATE');
  });
});
