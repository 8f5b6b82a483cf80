import type { AppEntry } from '../domain/config-types.js';
import type { ReportQuery } from '../domain/report.js';
import { buildSkanSection, type PostbackGroup, type SkanSection } from '../domain/skan-report.js';

/**
 * The SKAN section of a report (issue 25): the verified postbacks of the environment's iOS
 * apps received in the report's range, by campaign. Undefined when the environment lists no
 * iOS app, so reports of web-only environments are unchanged.
 */
export async function skanSection(
  counts: (env_id: string, from_ms: number, to_ms: number) => Promise<PostbackGroup[]>,
  apps: readonly AppEntry[],
  q: ReportQuery,
): Promise<SkanSection | undefined> {
  const mine = apps.filter((a) => a.platform === 'ios' && a.env_id === q.env_id);
  if (mine.length === 0) return undefined;
  const groups = await counts(q.env_id, q.from_s * 1000, q.to_s * 1000);
  return buildSkanSection(
    groups,
    mine.map((a) => ({
      app_id: a.app_id,
      name: a.name ?? null,
      schema: a.conversion_values ?? null,
      campaigns: a.skan_campaigns ?? [],
    })),
    q.campaign_id,
  );
}
