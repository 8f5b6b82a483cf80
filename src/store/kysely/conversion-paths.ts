import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Kysely, Selectable } from 'kysely';
import type { ConversionPathsPort } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { ConversionPathsTable } from '../schema-audiences.js';
import type { ConversionPathRecord, PathTouchRecord } from '../store.js';
import { afterKey } from './keyset.js';
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
  return {
    env_id: r.env_id,
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

/** Stored conversion paths and the conversion events multi-touch reports read, over Kysely. */
export class KyselyConversionPaths implements ConversionPathsPort {
  constructor(private readonly db: Kysely<Database>) {}

  async listConversionPaths(env_id: string, from_s: number, to_s: number) {
    const page = (from: { at: number; id: string } | null) => {
      const rows: Promise<Array<Selectable<ConversionPathsTable>>> = this.db
        .selectFrom('conversion_paths')
        .selectAll()
        .where('env_id', '=', env_id)
        .where('event_time', '>=', from?.at ?? from_s)
        .where('event_time', '<', to_s)
        .$if(from !== null, (q) => {
          const { at, id } = from as { at: number; id: string };
          return q.where(afterKey('event_time', 'conversion_id', at, id));
        })
        .orderBy('event_time')
        .orderBy('conversion_id')
        .limit(PATH_PAGE_ROWS)
        .execute();
      // Awaited on the next turn; one asked for when parsing the last page threw is not.
      rows.catch(() => {});
      return rows;
    };
    const out: ConversionPathRecord[] = [];
    let next = page(null);
    for (;;) {
      const rows = await next;
      const last: Selectable<ConversionPathsTable> | undefined = rows.at(-1);
      const more = last !== undefined && rows.length === PATH_PAGE_ROWS;
      // The next page is asked for before this one is parsed, so the store reads it (on its
      // own thread, or the database server) meanwhile, as journeys-run.ts does; the turn lets
      // the query leave and pixels and events go between the pages.
      if (more) next = page({ at: num(last.event_time), id: last.conversion_id });
      await nextTurn();
      for (const r of rows) out.push(pathFromRow(r));
      if (!more) return out;
    }
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
