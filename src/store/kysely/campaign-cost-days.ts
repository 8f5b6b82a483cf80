import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** Days per delete statement (bound values). */
const DAYS_PER_DELETE = 500;

/**
 * Deletes what the given campaigns cost on the given UTC days, every channel: an import or
 * spend typed in for a campaign's day is the whole of that day's cost (issue 23: re-imports
 * replace the same days), so a line imported again under another channel, or spend typed in
 * over imported days, never counts twice. Run in the writer's transaction, before it inserts.
 */
export async function clearCampaignDays(
  db: Kysely<Database> | Transaction<Database>,
  env_id: string,
  days: ReadonlyMap<string, ReadonlySet<number>>,
): Promise<void> {
  for (const [campaign_id, set] of days) {
    const list = [...set];
    for (let i = 0; i < list.length; i += DAYS_PER_DELETE) {
      await db
        .deleteFrom('campaign_costs')
        .where('env_id', '=', env_id)
        .where('campaign_id', '=', campaign_id)
        .where('day', 'in', list.slice(i, i + DAYS_PER_DELETE))
        .execute();
    }
  }
}

/** The (campaign, days) a set of cost rows covers. */
export function campaignDays(
  rows: ReadonlyArray<{ campaign_id: string; day: number }>,
): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const r of rows) {
    const days = out.get(r.campaign_id) ?? new Set<number>();
    days.add(r.day);
    out.set(r.campaign_id, days);
  }
  return out;
}
