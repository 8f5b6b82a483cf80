import type { CoarseValue, PostbackFramework } from './apple-postback.js';
import { type ConversionSchema, decodeValue } from './conversion-schema.js';

/**
 * The SKAdNetwork / AdAttributionKit part of a report (issue 25): Apple's verified postbacks
 * by campaign, decoded with each app's conversion-value schema. A separate source: these
 * figures never enter the deterministic rows or totals, since Apple does not say which person
 * a postback is about and an install pixeltrail attributed itself may be among them.
 */

/** Verified postbacks counted by what decoding and grouping need (the store's counts). */
export interface PostbackGroup {
  framework: PostbackFramework;
  app_id: string;
  ad_network_id: string;
  campaign_id: string | null;
  source_identifier: string | null;
  fine_value: number | null;
  coarse_value: CoarseValue | null;
  sequence_index: number;
  did_win: boolean | null;
  redownload: boolean | null;
  conversion_type: string | null;
  n: number;
}

/** An app as the report needs it: its schema and how its networks' campaigns map to ours. */
export interface SkanApp {
  app_id: string;
  name: string | null;
  schema: ConversionSchema | null;
  campaigns: readonly SkanCampaignMap[];
}

/**
 * `apps[i].skan_campaigns`: the ad network's campaign (SKAdNetwork 1–3 `campaign-id`, exactly)
 * or source identifier (a prefix of the one received: `52` maps 52, 523 and 5239; a postback
 * whose tier left fewer digits than the mapping has is not guessed at) → our campaign id.
 */
export interface SkanCampaignMap {
  /** The ad network id; absent: any network. */
  ad_network_id: string | null;
  source: string;
  campaign_id: string;
}

/** Decoded revenue of some postbacks, in one currency: the ranges' low and high ends summed. */
export interface RevenueSpan {
  currency: string;
  min: number;
  max: number;
  /** The ranges' midpoints summed: the point estimate. */
  mid: number;
}

export interface SkanCounts {
  /** Winning first-window postbacks of new downloads. */
  installs: number;
  redownloads: number;
  /** AdAttributionKit `conversion-type: re-engagement` (winning, first window). */
  reengagements: number;
  /** Postbacks of impressions that qualified but did not win (`did-win: false`). */
  non_winning: number;
  /** Verified winning postbacks of every window. */
  postbacks: number;
  /** Decoded events of winning postbacks, per event and conversion window (0, 1, 2). */
  events: { event: string; window: number; count: number }[];
  /** Winning postbacks whose value the schema does not map (or the app has no schema). */
  unmapped: number;
  /** Winning postbacks that carried no value (crowd anonymity's lowest tier). */
  without_value: number;
  revenue: RevenueSpan[];
}

export interface SkanRow extends SkanCounts {
  /** Our campaign id when `skan_campaigns` maps it, else `<ad_network_id>:<source>`. */
  key: string;
  /** Our campaign id, or null when unmapped. */
  campaign_id: string | null;
  app_id: string;
  app_name: string | null;
  ad_network_id: string;
  /** The `source-identifier`s or `campaign-id`s received, as received, that make up the row. */
  sources: string[];
  source_kind: SourceKind;
}

export type SourceKind = 'source_identifier' | 'campaign_id';

export interface SkanSection {
  source: 'apple_postbacks';
  /** What a reader must know before comparing these with the rows above. */
  notes: string[];
  rows: SkanRow[];
  totals: SkanCounts;
}

export const SKAN_NOTES = [
  "Apple's verified SKAdNetwork and AdAttributionKit postbacks, received in the report's range (Apple sends no install time; postbacks come a day to weeks after the install). A separate source: never included in the rows and totals above.",
  'A postback names no person, so an install attributed above may also be counted here: compare the two, never add them.',
  'Events are counted per conversion window: an install reporting the same event in two windows counts once in each.',
];

function emptyCounts(): SkanCounts {
  return {
    installs: 0,
    redownloads: 0,
    reengagements: 0,
    non_winning: 0,
    postbacks: 0,
    events: [],
    unmapped: 0,
    without_value: 0,
    revenue: [],
  };
}

/** Our campaign id of a network's campaign, by the app's map; null when none says. */
export function mapCampaign(
  maps: readonly SkanCampaignMap[],
  ad_network_id: string,
  source: string,
  kind: SourceKind,
): string | null {
  let best: SkanCampaignMap | null = null;
  for (const m of maps) {
    if (m.ad_network_id !== null && m.ad_network_id !== ad_network_id) continue;
    const hit = kind === 'campaign_id' ? m.source === source : source.startsWith(m.source);
    // The longest (most specific) source wins; a network-specific map beats an any-network one.
    const better =
      !best ||
      m.source.length > best.source.length ||
      (m.source.length === best.source.length && best.ad_network_id === null);
    if (hit && better) best = m;
  }
  return best?.campaign_id ?? null;
}

function add(c: SkanCounts, g: PostbackGroup, app: SkanApp | undefined): void {
  if (g.did_win === false) {
    c.non_winning += g.n;
    return;
  }
  c.postbacks += g.n;
  if (g.sequence_index === 0) {
    if (g.conversion_type === 're-engagement') c.reengagements += g.n;
    else if (g.redownload) c.redownloads += g.n;
    else c.installs += g.n;
  }
  const schema = app?.schema ?? null;
  const d = decodeValue(schema, g);
  if (d.source === 'none') c.without_value += g.n;
  if (d.unmapped) c.unmapped += g.n;
  for (const event of d.events) {
    const e = c.events.find((x) => x.event === event && x.window === g.sequence_index);
    if (e) e.count += g.n;
    else c.events.push({ event, window: g.sequence_index, count: g.n });
  }
  if (d.revenue && schema?.currency) {
    const currency = schema.currency;
    let r = c.revenue.find((x) => x.currency === currency);
    if (!r) {
      r = { currency, min: 0, max: 0, mid: 0 };
      c.revenue.push(r);
    }
    r.min += d.revenue.min * g.n;
    r.max += d.revenue.max * g.n;
    r.mid += ((d.revenue.min + d.revenue.max) / 2) * g.n;
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function finish(c: SkanCounts): SkanCounts {
  c.events.sort(
    (a, b) => a.window - b.window || b.count - a.count || a.event.localeCompare(b.event),
  );
  c.revenue = c.revenue
    .map((r) => ({
      currency: r.currency,
      min: round2(r.min),
      max: round2(r.max),
      mid: round2(r.mid),
    }))
    .sort((a, b) => a.currency.localeCompare(b.currency));
  return c;
}

/**
 * The SKAN section of a report from the store's counts. `campaign_id`: only the rows mapped
 * to that campaign of ours (a report filtered by campaign).
 */
export function buildSkanSection(
  groups: readonly PostbackGroup[],
  apps: readonly SkanApp[],
  campaign_id?: string,
): SkanSection {
  const byApp = new Map(apps.map((a) => [a.app_id, a]));
  const rows = new Map<string, SkanRow>();
  const totals = emptyCounts();
  for (const g of groups) {
    const app = byApp.get(g.app_id);
    const kind = g.source_identifier !== null ? 'source_identifier' : 'campaign_id';
    const source = g.source_identifier ?? g.campaign_id ?? '';
    const mapped = mapCampaign(app?.campaigns ?? [], g.ad_network_id, source, kind);
    if (campaign_id !== undefined && mapped !== campaign_id) continue;
    // One row per campaign of ours (per app and network), else per network campaign.
    const id = `${g.app_id}\n${g.ad_network_id}\n${mapped === null ? `${kind}\n${source}` : mapped}`;
    let row = rows.get(id);
    if (!row) {
      row = {
        key: mapped ?? `${g.ad_network_id}:${source}`,
        campaign_id: mapped,
        app_id: g.app_id,
        app_name: app?.name ?? null,
        ad_network_id: g.ad_network_id,
        sources: [],
        source_kind: kind,
        ...emptyCounts(),
      };
      rows.set(id, row);
    }
    if (!row.sources.includes(source)) row.sources.push(source);
    add(row, g, app);
    add(totals, g, app);
  }
  const list = [...rows.values()].map((r) => ({ ...r, ...finish(r), sources: r.sources.sort() }));
  list.sort((a, b) => b.installs - a.installs || a.key.localeCompare(b.key));
  return { source: 'apple_postbacks', notes: SKAN_NOTES, rows: list, totals: finish(totals) };
}
