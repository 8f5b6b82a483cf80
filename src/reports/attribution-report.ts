import {
  ATTRIBUTION_MODELS,
  type AttributionModel,
  channelOf,
  creditPath,
  journeyOf,
  removalEffects,
} from '../domain/attribution-models.js';
import type { ConversionPathRecord } from '../store/audience-store.js';

/** One campaign's fractional conversions and revenue under one model. */
export interface CampaignCredit {
  campaign_id: string | null;
  conversions: number;
  revenue: number;
}

/** Report figures are rounded so float dust (0.30000000000000004) does not reach users. */
const DECIMALS = 1e6;
const round = (x: number) => Math.round(x * DECIMALS) / DECIMALS;

/** Options of one report run. */
export interface ReportOptions {
  half_life_s?: number;
}

/**
 * Credits every conversion path under `model` and sums by campaign. The data-driven model
 * takes its removal effects from the paths of the same range; a conversion with no touch on
 * its path gives no credit (it is unattributed under every model).
 */
export function creditByCampaign(
  paths: readonly ConversionPathRecord[],
  model: AttributionModel,
  opts: ReportOptions = {},
): CampaignCredit[] {
  const removal_effects =
    model === 'data_driven'
      ? removalEffects(paths.map((p) => journeyOf(toModelPath(p), p.lookback_s)))
      : undefined;
  const rows = new Map<string, CampaignCredit>();
  for (const p of paths) {
    const credits = creditPath(model, toModelPath(p), {
      lookback_s: p.lookback_s,
      half_life_s: opts.half_life_s,
      removal_effects,
    });
    for (const c of credits) {
      const key = channelOf(c.touch);
      const row = rows.get(key) ?? { campaign_id: c.touch.campaign_id, conversions: 0, revenue: 0 };
      row.conversions += c.share;
      row.revenue += c.credit;
      rows.set(key, row);
    }
  }
  return [...rows.values()]
    .map((r) => ({ ...r, conversions: round(r.conversions), revenue: round(r.revenue) }))
    .sort(
      (a, b) =>
        b.revenue - a.revenue ||
        b.conversions - a.conversions ||
        String(a.campaign_id).localeCompare(String(b.campaign_id)),
    );
}

/** Every model side by side: one row per campaign with each model's figures. */
export function allModelsByCampaign(
  paths: readonly ConversionPathRecord[],
  opts: ReportOptions = {},
): Array<
  { campaign_id: string | null } & Record<AttributionModel, Omit<CampaignCredit, 'campaign_id'>>
> {
  const byCampaign = new Map<string, { campaign_id: string | null } & Record<string, unknown>>();
  for (const model of ATTRIBUTION_MODELS) {
    for (const r of creditByCampaign(paths, model, opts)) {
      const key = String(r.campaign_id);
      const row = byCampaign.get(key) ?? { campaign_id: r.campaign_id };
      row[model] = { conversions: r.conversions, revenue: r.revenue };
      byCampaign.set(key, row);
    }
  }
  const zero = { conversions: 0, revenue: 0 };
  return [...byCampaign.values()].map(
    (row) =>
      Object.fromEntries([
        ['campaign_id', row.campaign_id],
        ...ATTRIBUTION_MODELS.map((m) => [m, row[m] ?? zero]),
      ]) as { campaign_id: string | null } & Record<
        AttributionModel,
        Omit<CampaignCredit, 'campaign_id'>
      >,
  );
}

function toModelPath(p: ConversionPathRecord) {
  return { time: p.event_time, value: p.value ?? 0, touches: p.touches };
}
