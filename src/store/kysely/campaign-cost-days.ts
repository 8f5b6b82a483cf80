import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** (campaign, day) pairs per delete statement: two bound values each. */
const PAIRS_PER_DELETE = 1000;

/**
 * Deletes what the given campaigns cost on the given UTC days, every channel: an import or
 * spend typed in for a campaign's day is the whole of that day's cost (issue 23: re-imports
 * replace the same days), so a line imported again under another channel, or spend typed in
 * over imported days, never counts twice. Run in the writer's transaction, before it inserts.
 * One statement per thousand pairs, each pair a seek of the primary key's (env_id,
 * campaign_id) on both stores, whatever mix of campaigns and days the import holds.
 */
export async function clearCampaignDays(
  db: Kysely<Database> | Transaction<Database>,
  env_id: string,
  rows: ReadonlyArray<{ campaign_id: string; day: number }>,
): Promise<void> {
  const seen = new Set<string>();
  const pairs: Array<[string, number]> = [];
  for (const r of rows) {
    const key = `${r.campaign_id}\u0000${r.day}`;
    if (seen.has(key)) continue;
    seen.add(key);
    pairs.push([r.campaign_id, r.day]);
  }
  for (let i = 0; i < pairs.length; i += PAIRS_PER_DELETE) {
    // A VALUES list types its cells by themselves: PostgreSQL would read the day as text.
    const values = pairs
      .slice(i, i + PAIRS_PER_DELETE)
      .map(([campaign, day]) => sql`(${campaign}, cast(${day} as integer))`);
    await sql`delete from campaign_costs where env_id = ${env_id}
      and (campaign_id, day) in (values ${sql.join(values)})`.execute(db);
  }
}
