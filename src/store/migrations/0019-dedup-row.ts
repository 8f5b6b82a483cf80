import { type Kysely, type Migration, type QueryResult, type RawBuilder, sql } from 'kysely';
import type { Attribution } from '../../domain/attribution.js';
import { dedupRowIndex } from '../../domain/dedup-credit.js';
import { defineMigration } from './define.js';

/** Conversion rows read per step of the backfill. */
const READ_CHUNK = 5000;
/** Rows marked per UPDATE (3 bound values each). */
const MARK_CHUNK = 300;

interface Row {
  env_id: string;
  conversion_id: string;
  dest_id: string;
  attribution: string | null;
}

type Key = [string, string, string];

async function mark(db: Kysely<unknown>, keys: readonly Key[]): Promise<void> {
  if (keys.length === 0) return;
  const tuples = sql.join(keys.map((k) => sql`(${k[0]}, ${k[1]}, ${k[2]})`));
  await sql`update conversions set dedup_row = 1
    where (env_id, conversion_id, dest_id) in (values ${tuples})`.execute(db);
}

/** The row of each conversion of `rows` (all of its rows, in key order) the view counts. */
function picks(rows: readonly Row[]): Key[] {
  const out: Key[] = [];
  let start = 0;
  for (let i = 1; i <= rows.length; i++) {
    const a = rows[start] as Row;
    const b = rows[i];
    if (b && b.env_id === a.env_id && b.conversion_id === a.conversion_id) continue;
    const group = rows.slice(start, i);
    const credits = group.map((r) => ({
      dest_id: r.dest_id,
      attribution: r.attribution ? (JSON.parse(r.attribution) as Attribution) : null,
    }));
    const pick = group[dedupRowIndex(credits)] as Row;
    out.push([pick.env_id, pick.conversion_id, pick.dest_id]);
    start = i;
  }
  return out;
}

/**
 * 0015b_dedup_row: the deduplicated report (issue 19 §4) counts one row per conversion,
 * `dedup_row = 1`: the destination whose credit wins across all destinations. New rows get
 * it at ingest; rows stored before are marked here from their stored credits, read in key
 * order a chunk at a time (a conversion split over two chunks is finished in the next). The
 * report index is rebuilt to cover the columns the reports now read (currency, dedup_row).
 */
export const dedupRowMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('conversions')
      .addColumn('dedup_row', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    let after: Key | null = null;
    let carry: Row[] = [];
    for (;;) {
      const last: Key | null = after;
      const where: RawBuilder<unknown> = last
        ? sql`where (env_id, conversion_id, dest_id) > (${last[0]}, ${last[1]}, ${last[2]})`
        : sql``;
      const read: QueryResult<Row> = await sql<Row>`
        select env_id, conversion_id, dest_id, attribution from conversions ${where}
        order by env_id, conversion_id, dest_id limit ${READ_CHUNK}`.execute(db);
      const rows = [...carry, ...read.rows];
      const end: Row | undefined = read.rows.at(-1);
      // The chunk's last conversion may go on in the next chunk: it waits for it.
      let cut = rows.length;
      while (
        end &&
        cut > 0 &&
        (rows[cut - 1] as Row).conversion_id === end.conversion_id &&
        (rows[cut - 1] as Row).env_id === end.env_id
      )
        cut--;
      carry = rows.slice(cut);
      const done = picks(rows.slice(0, cut));
      for (let i = 0; i < done.length; i += MARK_CHUNK)
        await mark(db, done.slice(i, i + MARK_CHUNK));
      if (!end) break;
      after = [end.env_id, end.conversion_id, end.dest_id];
    }
    await db.schema.dropIndex('conversions_report').execute();
    await db.schema
      .createIndex('conversions_report')
      .on('conversions')
      .columns([
        'env_id',
        'event_time',
        'is_test',
        'dedup_row',
        'attributed',
        'attr_type',
        'match_type',
        'currency',
        'value',
        'campaign_id',
        'creative_id',
        'dest_id',
      ])
      .execute();
  },
};

export default defineMigration('0015b_dedup_row', dedupRowMigration);
