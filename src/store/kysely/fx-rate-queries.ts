import type { Kysely } from 'kysely';
import { dateOfDay, dayOfDate, type FxRate } from '../../domain/fx-rates.js';
import type { FxRateFilter } from '../records.js';
import type { Database } from '../schema.js';

/** Rates per upsert statement (5 bound values each). */
const FX_CHUNK = 500;

/** Saves rates, replacing a saved rate of the same pair and day. */
export async function putFxRates(
  db: Kysely<Database>,
  rates: readonly FxRate[],
  now_ms: number,
): Promise<void> {
  // One statement must not name a row twice (PostgreSQL refuses it): the last copy wins.
  const byKey = new Map(rates.map((r) => [`${r.from}>${r.to}@${r.date}`, r]));
  const rows = [...byKey.values()].map((r) => ({
    base: r.from,
    quote: r.to,
    day: dayOfDate(r.date),
    rate: r.rate,
    updated_at_ms: now_ms,
  }));
  for (let i = 0; i < rows.length; i += FX_CHUNK) {
    await db
      .insertInto('fx_rates')
      .values(rows.slice(i, i + FX_CHUNK))
      .onConflict((oc) =>
        oc.columns(['base', 'quote', 'day']).doUpdateSet((eb) => ({
          rate: eb.ref('excluded.rate'),
          updated_at_ms: eb.ref('excluded.updated_at_ms'),
        })),
      )
      .execute();
  }
}

/** Saved rates, by pair then date. */
export async function listFxRates(db: Kysely<Database>, f: FxRateFilter = {}): Promise<FxRate[]> {
  let q = db.selectFrom('fx_rates').select(['base', 'quote', 'day', 'rate']);
  if (f.from) q = q.where('base', '=', f.from);
  if (f.to) q = q.where('quote', '=', f.to);
  if (f.since) q = q.where('day', '>=', dayOfDate(f.since));
  if (f.until) q = q.where('day', '<=', dayOfDate(f.until));
  const rows = await q.orderBy('base').orderBy('quote').orderBy('day').execute();
  return rows.map((r) => ({
    date: dateOfDay(Number(r.day)),
    from: r.base,
    to: r.quote,
    rate: Number(r.rate),
  }));
}

/** Deletes one saved rate; false when there was none. */
export async function deleteFxRate(
  db: Kysely<Database>,
  key: { date: string; from: string; to: string },
): Promise<boolean> {
  const r = await db
    .deleteFrom('fx_rates')
    .where('base', '=', key.from)
    .where('quote', '=', key.to)
    .where('day', '=', dayOfDate(key.date))
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
