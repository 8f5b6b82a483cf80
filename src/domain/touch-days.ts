import type { Touch } from './event.js';
import { DAY_S } from './report.js';

/**
 * Touches counted per UTC day, kind, destination, campaign and creative: reports read these
 * few rows instead of scanning millions of touches. Missing ids are stored as ''.
 */
export interface TouchDayRow {
  env_id: string;
  day: number;
  kind: string;
  dest_id: string;
  campaign_id: string;
  creative_id: string;
  n: number;
}

/** Adds a batch of touches up into day rows (one per distinct key in the batch). */
export function touchDays(touches: readonly Touch[]): TouchDayRow[] {
  const rows = new Map<string, TouchDayRow>();
  for (const t of touches) {
    const row = {
      env_id: t.env_id,
      day: Math.floor(t.time / DAY_S),
      kind: t.kind,
      dest_id: t.dest_id ?? '',
      campaign_id: t.campaign_id ?? '',
      creative_id: t.creative_id ?? '',
      n: 1,
    };
    const key = [row.env_id, row.day, row.kind, row.dest_id, row.campaign_id, row.creative_id].join(
      '\u0000',
    );
    const seen = rows.get(key);
    if (seen) seen.n++;
    else rows.set(key, row);
  }
  return [...rows.values()];
}
