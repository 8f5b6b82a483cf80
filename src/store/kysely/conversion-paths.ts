import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import type { Dialect } from '../migrations.js';
import type { ConversionPathsPort } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { ConversionPathsTable } from '../schema-audiences.js';
import type { ConversionPathRecord, PathTouchRecord } from '../store.js';
import { PATH_COLUMNS } from './ingest-columns.js';
import { afterKey, inKeysetOrder } from './keyset.js';
import { eventFromRow } from './row-mappers.js';

const num = (v: unknown): number => Number(v);

/**
 * Paths read a page at a time, with a turn of the event loop between pages. The rows come
 * from the read thread, but are received and parsed on the event loop: 50,000 paths in one
 * read held it 215-274 ms; a page of 5,000 about a tenth of that, and 2,000 under 10 ms (the
 * dashboard's model=all report held it 25-39 ms in all, where pages of 5,000 left 67 ms).
 */
export const PATH_PAGE_ROWS = 2_000;

function pathFromRow(r: Selectable<ConversionPathsTable>): ConversionPathRecord {
  return pathFromColumns(r.env_id, r);
}

/** A page's row, as the database writes it: PAGE_COLUMNS in order, the touches parsed. */
type PathRow = [
  conversion_id: string,
  event_pk: string,
  event_name: string,
  event_time: number,
  value: number | null,
  currency: string | null,
  lookback_s: number,
  touches: PathTouchRecord[],
  created_at_ms: number,
];
/** PATH_COLUMNS but env_id (the filter), in order: PathRow's. */
const PAGE_COLUMNS = PATH_COLUMNS.filter(
  (c): c is Exclude<(typeof PATH_COLUMNS)[number], 'env_id'> => c !== 'env_id',
);

interface PathCursor {
  at: number;
  id: string;
}

/** Whether row `a` comes before `b` in a page's (event_time, conversion_id) order. */
const before = (a: PathRow, b: PathRow) =>
  Number(a[3]) - Number(b[3]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function pathFromPageRow(env_id: string, r: PathRow): ConversionPathRecord {
  return {
    env_id,
    conversion_id: r[0],
    event_pk: r[1],
    event_name: r[2],
    event_time: Number(r[3]),
    value: r[4] === null ? null : Number(r[4]),
    currency: r[5],
    lookback_s: Number(r[6]),
    touches: r[7],
    created_at_ms: Number(r[8]),
  };
}

/** A page's row as a driver gives it (PostgreSQL's). */
type ColumnsRow = Pick<Selectable<ConversionPathsTable>, (typeof PAGE_COLUMNS)[number]>;

function pathFromColumns(env_id: string, r: ColumnsRow): ConversionPathRecord {
  return {
    env_id,
    conversion_id: r.conversion_id,
    event_pk: r.event_pk,
    event_name: r.event_name,
    event_time: num(r.event_time),
    value: r.value === null ? null : Number(r.value),
    currency: r.currency,
    lookback_s: num(r.lookback_s),
    touches: JSON.parse(r.touches) as PathTouchRecord[],
    created_at_ms: num(r.created_at_ms),
  };
}

/** An environment's paths of [from_s, to_s) after `after`, in (event_time, conversion_id) order. */
function pathRowsQuery(
  db: Kysely<Database>,
  env_id: string,
  from_s: number,
  to_s: number,
  after: PathCursor | null,
  limit: number,
) {
  return db
    .selectFrom('conversion_paths')
    .select(PAGE_COLUMNS)
    .where('env_id', '=', env_id)
    .where('event_time', '>=', after?.at ?? from_s)
    .where('event_time', '<', to_s)
    .$if(after !== null, (q) => {
      const { at, id } = after as PathCursor;
      return q.where(afterKey('event_time', 'conversion_id', at, id));
    })
    .orderBy('event_time')
    .orderBy('conversion_id')
    .limit(limit);
}

/**
 * pathRowsQuery's page on SQLite, as one JSON text of row arrays (`page`) with each path's
 * touches in it as JSON (json() marks them so). The driver makes an object of each row, a
 * property at a time, and the read thread clones each to the event loop, where each path's
 * touches were parsed again; one text crosses whole and is parsed once, as the journeys' pages
 * do (journeys.ts). The demo store's 100,000 paths of a month: 0.88-1.24 s of CPU to read and
 * map as rows, 0.69-0.79 s as JSON. The aggregate takes the rows in the order the ordered
 * subquery gives them (checked on arrival, inKeysetOrder).
 *
 * Not on PostgreSQL: its driver parses rows on the event loop either way, and building the
 * JSON (json_agg, the touches cast to json) made the server take 460 ms for those paths
 * where sending the rows takes 160-250; a month's read took 2.1-2.7 s of wall time against
 * 1.5-2.0 s as rows.
 */
function sqlitePathPageQuery(db: Kysely<Database>, rows: ReturnType<typeof pathRowsQuery>) {
  const cells = sql.join(
    PAGE_COLUMNS.map((c) => (c === 'touches' ? sql`json(t.touches)` : sql.ref(`t.${c}`))),
    sql`, `,
  );
  return db.selectFrom(rows.as('t')).select([
    sql<string>`json_group_array(json_array(${cells}))`.as('page'),
    sql<number>`count(*)`.as('n'),
    // The page's last (event_time, conversion_id), the next page's cursor, without parsing the
    // page first: the time zero-padded, so the texts order as the pairs do (in SQLite's own
    // collation, the one the cursor is compared in). A page holding a time before 1970, or
    // one stored with a fraction (not by pixeltrail, which writes whole seconds), has none:
    // its cursor is its parsed last row.
    sql<
      string | null
    >`case when min(t.event_time >= 0 and typeof(t.event_time) = 'integer') then max(printf('%020d', t.event_time) || t.conversion_id) end`.as(
      'last_key',
    ),
  ]);
}

/** A page as the store gives it: its size, its cursor, and its rows, made on demand. */
interface PathPage {
  size: number;
  last: PathCursor | null;
  rows: () => ReadonlyArray<PathRow | ColumnsRow>;
}

const TIME_DIGITS = 20;

function sqlitePage(r: { page: string; n: number; last_key: string | null } | undefined): PathPage {
  if (!r) return { size: 0, last: null, rows: () => [] };
  const size = Number(r.n);
  let parsed: PathRow[] | null = null;
  const rows = () => {
    parsed ??= inKeysetOrder(JSON.parse(r.page) as PathRow[], before);
    return parsed;
  };
  let last: PathCursor | null = null;
  if (r.last_key !== null && r.last_key.length > TIME_DIGITS)
    last = { at: Number(r.last_key.slice(0, TIME_DIGITS)), id: r.last_key.slice(TIME_DIGITS) };
  else if (size > 0) {
    const row = rows().at(-1) as PathRow;
    last = { at: Number(row[3]), id: row[0] };
  }
  return { size, last, rows };
}

function driverPage(rows: ColumnsRow[]): PathPage {
  const row = rows.at(-1);
  return {
    size: rows.length,
    last: row ? { at: Number(row.event_time), id: row.conversion_id } : null,
    rows: () => rows,
  };
}

/** Stored conversion paths and the conversion events multi-touch reports read, over Kysely. */
export class KyselyConversionPaths implements ConversionPathsPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async listConversionPaths(env_id: string, from_s: number, to_s: number) {
    const rowsAfter = (after: PathCursor | null) =>
      pathRowsQuery(this.db, env_id, from_s, to_s, after, PATH_PAGE_ROWS);
    const page = (after: PathCursor | null): Promise<PathPage> => {
      const p =
        this.dialect === 'sqlite'
          ? sqlitePathPageQuery(this.db, rowsAfter(after)).executeTakeFirst().then(sqlitePage)
          : rowsAfter(after).execute().then(driverPage);
      // Awaited on the next turn; one asked for when mapping the last page threw is not.
      p.catch(() => {});
      return p;
    };
    const out: ConversionPathRecord[] = [];
    let next = page(null);
    for (;;) {
      const { size, last, rows } = await next;
      const more = last !== null && size === PATH_PAGE_ROWS;
      // The next page is asked for before this one is parsed and mapped, so the store reads it
      // (on its own thread, or the database server) meanwhile, as journeys-run.ts does; the
      // turn lets the query leave and pixels and events go between the pages.
      if (more) next = page(last);
      await nextTurn();
      for (const r of rows())
        out.push(Array.isArray(r) ? pathFromPageRow(env_id, r) : pathFromColumns(env_id, r));
      if (!more) return out;
    }
  }

  async pathTouchIds(env_id: string, from_s: number, to_s: number) {
    // Read by the database from each path's touches, as one JSON text on SQLite (one string
    // crosses from the read thread, see sqlitePathPageQuery). Reading the paths whole for
    // their ids, as reports did, parsed and kept every path: the demo store's week after a
    // range, 23,085 paths and 33,011 ids, took 322-333 ms of wall time and 427-487 ms of CPU,
    // most of it the event loop's; this read 146-258 ms, almost all the read thread's.
    if (this.dialect === 'sqlite') {
      const row = await this.touchesOfPaths(sql`json_each(p.touches)`, env_id, from_s, to_s)
        .select(sql<string>`json_group_array(distinct j.value ->> 'touch_id')`.as('ids'))
        .executeTakeFirst();
      return (JSON.parse(row?.ids ?? '[]') as (string | null)[]).filter(
        (id): id is string => typeof id === 'string',
      );
    }
    const touches = sql`json_array_elements(p.touches::json)`;
    const rows = await this.touchesOfPaths(touches, env_id, from_s, to_s)
      .select(sql<string | null>`j.value ->> 'touch_id'`.as('id'))
      .distinct()
      .execute();
    return rows.flatMap((r) => (typeof r.id === 'string' ? [r.id] : []));
  }

  /** The paths (`p`) of [from_s, to_s), a row for each of their touches (`j`, of `touches`). */
  private touchesOfPaths(
    touches: RawBuilder<unknown>,
    env_id: string,
    from_s: number,
    to_s: number,
  ) {
    return this.db
      .selectFrom(['conversion_paths as p', touches.as('j')])
      .where('p.env_id', '=', env_id)
      .where('p.event_time', '>=', from_s)
      .where('p.event_time', '<', to_s);
  }

  async getConversionPath(env_id: string, conversion_id: string) {
    const row = await this.db
      .selectFrom('conversion_paths')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('conversion_id', '=', conversion_id)
      .executeTakeFirst();
    return row ? pathFromRow(row) : null;
  }

  async conversionEvents(
    env_id: string,
    from_s: number,
    to_s: number,
    after: string | null,
    limit: number,
  ) {
    let q = this.db
      .selectFrom('conversions')
      .select(['conversion_id', 'event_pk'])
      .distinct()
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .orderBy('conversion_id')
      .limit(limit);
    if (after !== null) q = q.where('conversion_id', '>', after);
    const convs = await q.execute();
    if (convs.length === 0) return [];
    const events = await this.db
      .selectFrom('events')
      .selectAll()
      .where(
        'pk',
        'in',
        convs.map((c) => c.event_pk),
      )
      .execute();
    const byPk = new Map(events.map((e) => [e.pk, eventFromRow(e)]));
    return convs.flatMap((c) => {
      const stored = byPk.get(c.event_pk);
      return stored ? [{ conversion_id: c.conversion_id, stored }] : [];
    });
  }

  async countConversionEvents(env_id: string, from_s: number, to_s: number) {
    const row = await this.db
      .selectFrom('conversions')
      .select((eb) => eb.fn.count<number>('conversion_id').distinct().as('n'))
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
