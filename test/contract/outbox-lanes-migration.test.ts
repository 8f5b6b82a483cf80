import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { outboxLanesMigration } from '../../src/store/migrations/0040-outbox-lanes.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

// 0040_outbox_lanes on PostgreSQL (issue 22, tenth round): an operator builds the index
// beforehand with CREATE INDEX CONCURRENTLY on a large outbox (docs/deploy.md). The step
// takes that index as it is, and stops with what to do when an index of that name is
// invalid (a concurrent build running or failed) or is some other index, rather than drop
// it under the outbox's lock.

const hasPostgres = await postgresAvailable();

describe.skipIf(!hasPostgres)('0040_outbox_lanes on PostgreSQL', () => {
  let store: KyselyStore;
  let url: string;
  let drop: () => Promise<void>;
  const step = outboxLanesMigration('postgres');
  const raw = async (text: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    ({ url, drop } = await freshPostgresDatabase());
    store = openPostgresStore(url);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  it('OL01 an index built beforehand, concurrently, is taken as it is', async () => {
    await raw('DROP INDEX outbox_lanes');
    await raw(`CREATE INDEX CONCURRENTLY outbox_lanes ON outbox (kind, env_id, dest_id, id)
      WHERE status = 'pending'`);
    await expect(step.up(store.db)).resolves.toBeUndefined();
  });

  it('OL02 an invalid index of that name stops the step with what to do', async () => {
    await raw('DROP INDEX outbox_lanes');
    // Two pending rows of one kind: a concurrent unique build fails and leaves its index invalid.
    for (const id of ['a', 'b'])
      await sql`insert into outbox (env_id, conversion_id, dest_id, status, attempts,
        next_attempt_at_ms, created_at_ms, updated_at_ms)
        values ('e', ${id}, 'd', 'pending', 0, 1, 1, 1)`.execute(store.db);
    await expect(
      raw(`CREATE UNIQUE INDEX CONCURRENTLY outbox_lanes ON outbox (kind, env_id, dest_id)
        WHERE status = 'pending'`),
    ).rejects.toThrow(/could not create unique index/);
    await expect(step.up(store.db)).rejects.toThrow(/invalid.*DROP INDEX CONCURRENTLY/s);
  });

  it('OL03 another index under that name stops the step too', async () => {
    await raw('DROP INDEX outbox_lanes');
    await raw('CREATE INDEX outbox_lanes ON outbox (kind, env_id, dest_id, id)');
    await expect(step.up(store.db)).rejects.toThrow(/is not this step's/);
    // Put right, the step goes through.
    await raw('DROP INDEX outbox_lanes');
    await expect(step.up(store.db)).resolves.toBeUndefined();
    const def = await raw("select pg_get_indexdef(to_regclass('outbox_lanes')) as d");
    expect(def.rows[0].d).toMatch(/WHERE \(status = 'pending'::text\)$/);
  });
});
