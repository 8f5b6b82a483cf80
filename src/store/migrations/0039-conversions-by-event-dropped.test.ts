import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { conversionIdOf } from '../../domain/event-key.js';
import { conversionsByEventDroppedMigration as step } from './0039-conversions-by-event-dropped.js';

// The step drops the index the reads by event used; they now rely on conversionIdOf. A row
// whose id was made otherwise must stop the step, not be lost to those reads.

let db: Kysely<unknown>;
afterEach(async () => db?.destroy());

async function conversionsWith(rows: Array<[string, string]>): Promise<Kysely<unknown>> {
  db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  await sql`create table "conversions" ("conversion_id" text not null, "event_pk" text not null)`.execute(
    db,
  );
  await sql`create index "conversions_by_event" on "conversions" ("event_pk")`.execute(db);
  for (const [id, pk] of rows)
    await sql`insert into "conversions" values (${id}, ${pk})`.execute(db);
  return db;
}

const indexes = async () =>
  (
    await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db)
  ).rows.map((r) => r.name);

describe('0039_conversions_by_event_dropped', () => {
  it('drops the index when every id is made from its event key', async () => {
    const pk = 'ev_00mfx2k1c.abc';
    await step.up(await conversionsWith([[conversionIdOf(pk), pk]]));
    expect(await indexes()).toEqual([]);
  });

  it('refuses, naming the rows, when an id is not, and keeps the index', async () => {
    const pk = 'ev_00mfx2k1c.abc';
    await conversionsWith([
      [conversionIdOf(pk), pk],
      ['cv_hand-made', 'ev_00mfx2k1c.xyz'],
    ]);
    await expect(step.up(db)).rejects.toThrow(/cv_hand-made \(event ev_00mfx2k1c\.xyz\)/);
    expect(await indexes()).toEqual(['conversions_by_event']);
  });
});
