import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import type { Touch, TrackedEvent } from '../../src/domain/event.js';
import { protectIp } from '../../src/domain/ip-privacy.js';
import type { BatchContext } from '../../src/ingest/batch-context.js';
import { processBatchSetWise } from '../../src/ingest/process-batch-set-wise.js';
import { partitionName } from '../../src/store/partitions.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import type { Store } from '../../src/store/store.js';
import { dedupKey } from '../helpers/stored-event.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// A PostgreSQL store whose retention has filled: 90 days of touch partitions. The set-wise
// touch read of an event batch must open only the days its lookups reach, on a plan made once
// per connection. With a plan made for each run, a batch's read cost 9 ms on such a store
// against 0.5 ms on a new one, and one event per request ran at half the rate (issue 22).

const NOW_MS = Date.now();
const T = Math.floor(NOW_MS / 1000);
const D = 86_400;
const DAY_MS = 86_400_000;
const RETENTION_DAYS = 90;
const ADDRESS = '203.0.113.77';
const hasPostgres = await postgresAvailable();

const { config, errors } = parseConfig(
  {
    admin_token: 'adm',
    environments: [
      {
        id: 'env_p',
        name: 'Partitions',
        write_key: 'wk_p',
        destinations: [
          {
            id: 'dsp1',
            type: 'webhook',
            url: 'http://127.0.0.1:9/hook',
            events: ['Purchase'],
            click_window: '7d',
            view_window: '1d',
          },
        ],
      },
    ],
  },
  { port: 0, host: '127.0.0.1', data_dir: '/nonexistent' },
);
if (errors.length > 0) throw new Error(JSON.stringify(errors));
const environment = config.environments[0];
if (!environment) throw new Error('no environment');

let ids = 0;
const ctx: BatchContext = {
  environment: (id) => (id === environment.id ? environment : undefined),
  nowMs: NOW_MS,
  newId: () => `tp${++ids}`,
};

function click(touch_id: string, anonymous_id: string, ageS: number): Touch {
  return {
    env_id: 'env_p',
    touch_id,
    kind: 'click',
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    time: T - ageS,
    anonymous_id,
    user_id: null,
    ip: protectIp(ADDRESS, environment.ip_storage, environment.ip_secret),
    user_agent: 'UA',
  };
}

function purchase(event_id: string, anonymous_id: string): TrackedEvent {
  return {
    env_id: 'env_p',
    event_name: 'Purchase',
    event_id,
    event_time: T,
    source: 'server',
    user: { ip: ADDRESS, user_agent: 'UA', anonymous_id },
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: true, analytics: true },
    warnings: [],
  };
}

/** The day partitions of touches a plan opens (each one scanned, or pruned as the run goes). */
function touchDaysOpened(plan: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(plan)) for (const p of plan) touchDaysOpened(p, into);
  else if (plan && typeof plan === 'object') {
    const node = plan as Record<string, unknown>;
    const rel = node['Relation Name'];
    if (typeof rel === 'string' && /^touches_d\d{8}$/.test(rel)) into.add(rel);
    for (const v of Object.values(node)) if (typeof v === 'object') touchDaysOpened(v, into);
  }
  return into;
}

describe.skipIf(!hasPostgres)('touch reads on a store of 90 days of partitions (postgres)', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let url = '';
  beforeAll(async () => {
    const open = STORE_KINDS.postgres;
    if (!open) throw new Error('no postgres store kind');
    const opened = await open();
    ({ store, dispose } = opened);
    url = opened.url ?? '';
    const admin = new pg.Client({ connectionString: opened.url });
    await admin.connect();
    try {
      const today = Math.floor(NOW_MS / DAY_MS) * DAY_MS;
      for (let i = 1; i <= RETENTION_DAYS; i++) {
        const day = today - i * DAY_MS;
        await admin.query(
          `create table if not exists "${partitionName({ name: 'touches', column: 'time', perMs: 1 / 1000 }, day)}"
           partition of touches for values from (${day / 1000}) to (${(day + DAY_MS) / 1000})`,
        );
      }
    } finally {
      await admin.end();
    }
    await store.insertTouches([
      // Outside the 7-day click window: read by no lookup.
      click('CLK-month', 'tp-buyer', 30 * D),
      click('CLK-week', 'tp-buyer', 6 * D),
    ]);
  });
  afterAll(async () => dispose?.());

  it('TP01 batches read their touches on one plan a connection, opening only the days they reach', async () => {
    const batches = 7;
    // Each connection's counts of the touch read's plans (they add up over its life).
    const plans = new Map<number, { generic: number; custom: number }>();
    let opened = new Set<string>();
    // The parameters the store sent with the touch read, as node-postgres submits it.
    let sent: unknown[] = [];
    const query = pg.Query.prototype as unknown as {
      submit: (...a: unknown[]) => unknown;
      text?: string;
      values?: unknown[];
    };
    const submit = query.submit;
    query.submit = function (this: typeof query, ...args: unknown[]) {
      if (this.text?.startsWith('select l.i, t.* from json_to_recordset'))
        sent = [...(this.values ?? [])];
      return submit.apply(this, args);
    };
    onTestFinished(() => {
      query.submit = submit;
    });
    for (let b = 0; b < batches; b++)
      await store.ingest(async (tx) => {
        if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
        const outcomes = await processBatchSetWise(
          tx,
          tx.setWise,
          [purchase(`tp-${b}`, 'tp-buyer')],
          { ...ctx },
        );
        // The transaction's own connection: its named statements and their plans.
        const db = (tx.setWise as unknown as { db: Kysely<unknown> }).db;
        const { rows } = await sql<{
          pid: number;
          name: string;
          generic_plans: string;
          custom_plans: string;
        }>`select pg_backend_pid() as pid, name, generic_plans, custom_plans
           from pg_prepared_statements where statement like '%cross join lateral%'`.execute(db);
        const [read] = rows;
        if (!read) throw new Error('the touch read is not a named statement');
        plans.set(read.pid, {
          generic: Number(read.generic_plans),
          custom: Number(read.custom_plans),
        });
        if (b < batches - 1) return outcomes;
        // Its plan as its last run started, with that run's parameters: the days before the
        // click window (7 days) are left out before any scan opens (EXPLAIN starts the
        // executor, not the scans).
        const literals = sent.map((v) =>
          typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`,
        );
        const plan = await sql<{ 'QUERY PLAN': unknown }>`explain (format json) execute ${sql.raw(
          `"${read.name}"(${literals.join(', ')})`,
        )}`.execute(db);
        opened = touchDaysOpened(plan.rows[0]?.['QUERY PLAN']);
        return outcomes;
      });

    // The credit is unchanged by the plan: the click inside the window.
    const key = await dedupKey(store, 'env_p', 'Purchase', 'tp-0');
    if (!key) throw new Error('tp-0 not stored');
    const rows = await store.ingest((tx) => tx.conversionsOfEvent('env_p', key.event_pk));
    expect(rows.find((r) => r.dest_id === 'dsp1')?.attribution).toMatchObject({
      click_id: 'CLK-week',
    });
    // Every run on a generic plan: none planned again for its parameters.
    const runs = [...plans.values()];
    expect(runs.reduce((n, p) => n + p.custom, 0)).toBe(0);
    expect(runs.reduce((n, p) => n + p.generic, 0)).toBe(batches);
    // 7 days back, today and the days made ahead; not the 90 days of the store.
    expect(opened.size).toBeGreaterThan(0);
    expect(opened.size).toBeLessThanOrEqual(12);
  });

  /** plan_cache_mode inside a set-wise ingest transaction of `on`, after a touch read. */
  const planMode = (on: Store) =>
    on.ingest(async (tx) => {
      if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
      await tx.setWise.findTouchesMany([
        { env_id: 'env_p', anonymous_ids: ['tp-buyer'], touch_ids: [], since: T - 7 * D },
      ]);
      const db = (tx.setWise as unknown as { db: Kysely<unknown> }).db;
      const { rows } = await sql<{
        mode: string;
      }>`select current_setting('plan_cache_mode') as mode`.execute(db);
      return rows[0]?.mode;
    });

  it('TP02 behind a pooler without prepared statements, PostgreSQL keeps choosing the plans', async () => {
    // Unnamed statements would make a generic plan, over every partition, on every run.
    expect(await planMode(store)).toBe('force_generic_plan');
    const pooled = openPostgresStore(`${url}?pgbouncer=true`);
    try {
      expect(await planMode(pooled)).toBe('auto');
    } finally {
      await pooled.close();
    }
  });

  it("TP03 lookups of different reach in one read: each finds its own, the oldest's too", async () => {
    await store.insertTouches([
      click('CLK-old-reach', 'tp-far', 6 * D),
      click('CLK-near', 'tp-near', 1800),
    ]);
    const found = await store.ingest(async (tx) => {
      if (!tx.setWise) throw new Error('PostgreSQL answers set-wise');
      return tx.setWise.findTouchesMany([
        { env_id: 'env_p', anonymous_ids: ['tp-near'], touch_ids: [], since: T - 3600 },
        { env_id: 'env_p', anonymous_ids: ['tp-far'], touch_ids: [], since: T - 7 * D },
      ]);
    });
    expect(found.map((touches) => touches.map((t) => t.touch_id))).toEqual([
      ['CLK-near'],
      ['CLK-old-reach'],
    ]);
  });
});
