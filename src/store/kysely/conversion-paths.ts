import type { Kysely, Selectable } from 'kysely';
import type { ConversionPathsPort } from '../ports/audiences.js';
import { eventFromRow } from '../row-mappers.js';
import type { Database } from '../schema.js';
import type { ConversionPathsTable } from '../schema-audiences.js';
import type { ConversionPathRecord, PathTouchRecord } from '../store.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 200;

const num = (v: unknown): number => Number(v);

function pathToRow(p: ConversionPathRecord): ConversionPathsTable {
  return { ...p, touches: JSON.stringify(p.touches) };
}

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

/** Writes or replaces conversion paths; shared by ingest and recompute. */
export async function putPaths(
  db: Kysely<Database>,
  paths: readonly ConversionPathRecord[],
): Promise<void> {
  for (let i = 0; i < paths.length; i += INSERT_CHUNK_ROWS) {
    await db
      .insertInto('conversion_paths')
      .values(paths.slice(i, i + INSERT_CHUNK_ROWS).map(pathToRow))
      .onConflict((oc) =>
        oc.columns(['env_id', 'conversion_id']).doUpdateSet((eb) => ({
          touches: eb.ref('excluded.touches'),
          lookback_s: eb.ref('excluded.lookback_s'),
          value: eb.ref('excluded.value'),
          currency: eb.ref('excluded.currency'),
        })),
      )
      .execute();
  }
}

/** Stored conversion paths and the conversion events multi-touch reports read, over Kysely. */
export class KyselyConversionPaths implements ConversionPathsPort {
  constructor(private readonly db: Kysely<Database>) {}

  async listConversionPaths(env_id: string, from_s: number, to_s: number) {
    const rows = await this.db
      .selectFrom('conversion_paths')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('event_time', '>=', from_s)
      .where('event_time', '<', to_s)
      .orderBy('event_time')
      .orderBy('conversion_id')
      .execute();
    return rows.map(pathFromRow);
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

  putConversionPaths(paths: readonly ConversionPathRecord[]) {
    return putPaths(this.db, paths);
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
