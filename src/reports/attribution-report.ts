import {
  ATTRIBUTION_MODELS,
  type AttributionModel,
  channelOf,
  creditPath,
  journeyOf,
  removalEffects,
} from '../domain/attribution-models.js';
import type { FxTable } from '../domain/fx-rates.js';
import { type MoneyByCurrency, NO_CURRENCY } from '../domain/money.js';
import type { ConversionPathRecord } from '../store/store.js';
import { CreditMoney, type UnconvertedCredit, type UsedRate } from './attribution-money.js';
import { reportCurrency } from './report-money.js';

/**
 * Credited conversions and revenue under one model. Revenue is kept per currency as sent
 * (`XXX`: sent without one) and never added across currencies; `revenue` is in the report's
 * currency, converted with the rate of each conversion's day, null when the report names no
 * currency and there is revenue. What no rate converts is in `unconverted_revenue`.
 */
export interface CreditMoneyFigures {
  conversions: number;
  revenue: number | null;
  revenue_by_currency: MoneyByCurrency;
  unconverted_revenue: MoneyByCurrency;
}

/** One campaign's fractional conversions and revenue under one model. */
export interface CampaignCredit extends CreditMoneyFigures {
  campaign_id: string | null;
}

/**
 * Report figures keep 6 decimals (credit is fractional: a third of 100 EUR is 33.333333) so
 * float dust (0.30000000000000004) does not reach users and rows still add up to the totals.
 */
const DECIMALS = 1e6;
const round = (x: number) => Math.round(x * DECIMALS) / DECIMALS;
const DAY_S = 86_400;

/** Options of one report run. */
export interface ReportOptions {
  half_life_s?: number;
}

interface RowSum {
  campaign_id: string | null;
  conversions: number;
  converted: number;
  has_revenue: boolean;
  by_currency: Map<string, number>;
  unconverted: Map<string, number>;
}

const addTo = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const rounded = (m: Map<string, number>): MoneyByCurrency =>
  Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => [c, round(v)]));

/** The figures of a row, rounded; `revenue` null when there is money and no currency to name. */
function figures(r: RowSum, currency: string | null): CreditMoneyFigures {
  return {
    conversions: round(r.conversions),
    revenue: currency === null && r.has_revenue ? null : round(r.converted),
    revenue_by_currency: rounded(r.by_currency),
    unconverted_revenue: rounded(r.unconverted),
  };
}

/**
 * Credits every conversion path under `model` and sums by campaign. The data-driven model
 * takes its removal effects from the paths of the same range; a conversion with no touch on
 * its path gives no credit (it is unattributed under every model).
 */
function creditSums(
  paths: readonly ConversionPathRecord[],
  model: AttributionModel,
  money: CreditMoney,
  opts: ReportOptions,
): RowSum[] {
  const removal_effects =
    model === 'data_driven'
      ? removalEffects(paths.map((p) => journeyOf(toModelPath(p), p.lookback_s)))
      : undefined;
  const rows = new Map<string, RowSum>();
  for (const p of paths) {
    const credits = creditPath(model, toModelPath(p), {
      lookback_s: p.lookback_s,
      half_life_s: opts.half_life_s,
      removal_effects,
    });
    const currency = p.currency ?? NO_CURRENCY;
    const day = Math.floor(p.event_time / DAY_S);
    for (const c of credits) {
      const key = channelOf(c.touch);
      const row = rows.get(key) ?? {
        campaign_id: c.touch.campaign_id,
        conversions: 0,
        converted: 0,
        has_revenue: false,
        by_currency: new Map(),
        unconverted: new Map(),
      };
      row.conversions += c.share;
      // Nothing is nothing in any currency: it needs no rate.
      if (c.credit !== 0) {
        row.has_revenue = true;
        addTo(row.by_currency, currency, c.credit);
        const converted = money.convert(currency, day, c.credit);
        if (converted === null) addTo(row.unconverted, currency, c.credit);
        else row.converted += converted;
      }
      rows.set(key, row);
    }
  }
  return [...rows.values()];
}

/** The rows of a model's sums, rounded, the most revenue first. */
function rowsOf(sums: readonly RowSum[], currency: string | null): CampaignCredit[] {
  return sums
    .map((r) => ({ campaign_id: r.campaign_id, ...figures(r, currency) }))
    .sort(
      (a, b) =>
        (b.revenue ?? 0) - (a.revenue ?? 0) ||
        b.conversions - a.conversions ||
        String(a.campaign_id).localeCompare(String(b.campaign_id)),
    );
}

/**
 * The totals of a model's rows: every figure summed per currency and converted (never across
 * currencies). Summed before rounding, so three thirds of 100 EUR total 100, not 99.999999.
 */
function totalOf(sums: readonly RowSum[], currency: string | null): CreditMoneyFigures {
  const t: RowSum = {
    campaign_id: null,
    conversions: 0,
    converted: 0,
    has_revenue: false,
    by_currency: new Map(),
    unconverted: new Map(),
  };
  for (const r of sums) {
    t.conversions += r.conversions;
    t.converted += r.converted;
    t.has_revenue ||= r.has_revenue;
    for (const [c, v] of r.by_currency) addTo(t.by_currency, c, v);
    for (const [c, v] of r.unconverted) addTo(t.unconverted, c, v);
  }
  return figures(t, currency);
}

type AllModelsRow = { campaign_id: string | null } & Record<AttributionModel, CreditMoneyFigures>;

/** Every model side by side: one row per campaign with each model's figures. */
function allModelsByCampaign(
  perModel: ReadonlyMap<AttributionModel, readonly CampaignCredit[]>,
): AllModelsRow[] {
  const byCampaign = new Map<string, { campaign_id: string | null } & Record<string, unknown>>();
  for (const [model, rows] of perModel) {
    for (const r of rows) {
      const key = String(r.campaign_id);
      const row = byCampaign.get(key) ?? { campaign_id: r.campaign_id };
      const { campaign_id: _, ...fig } = r;
      row[model] = fig;
      byCampaign.set(key, row);
    }
  }
  const zero: CreditMoneyFigures = {
    conversions: 0,
    revenue: 0,
    revenue_by_currency: {},
    unconverted_revenue: {},
  };
  return [...byCampaign.values()].map(
    (row) =>
      Object.fromEntries([
        ['campaign_id', row.campaign_id],
        ...ATTRIBUTION_MODELS.map((m) => [m, row[m] ?? zero]),
      ]) as AllModelsRow,
  );
}

/** The money part of a report: its currency, the dated rates used, what was not converted. */
export interface CreditReportMoney {
  currency: string | null;
  rates: UsedRate[];
  unconverted: UnconvertedCredit[];
  notes: string[];
}

/**
 * The multi-touch report of `paths` under one model or all of them. Money is converted into
 * `asked` (the request's or the environment's reporting currency), else into the only
 * currency of the conversions' values; with several and none asked, revenue stays per
 * currency. Every model credits each conversion's whole value, so what was left unconverted
 * is the same under all models.
 */
export function attributionReport(
  paths: readonly ConversionPathRecord[],
  model: AttributionModel | 'all',
  fx: FxTable,
  asked: string | null,
  opts: ReportOptions = {},
):
  | ({ rows: CampaignCredit[]; totals: CreditMoneyFigures } & CreditReportMoney)
  | ({
      models: readonly AttributionModel[];
      rows: AllModelsRow[];
      totals: Record<AttributionModel, CreditMoneyFigures>;
    } & CreditReportMoney) {
  const amounts = paths
    .filter((p) => (p.value ?? 0) !== 0)
    .map((p) => ({
      currency: p.currency ?? NO_CURRENCY,
      day: Math.floor(p.event_time / DAY_S),
      amount: p.value ?? 0,
    }));
  const money = new CreditMoney(fx, reportCurrency(asked, amounts));
  const moneyOf = (t: CreditMoneyFigures): CreditReportMoney => {
    const unconverted = money.unconverted(t.unconverted_revenue);
    return {
      currency: money.currency,
      rates: money.rates(),
      unconverted,
      notes:
        unconverted.length > 0
          ? ['revenue leaves out the money listed in unconverted (no rate for its day)']
          : [],
    };
  };
  if (model !== 'all') {
    const sums = creditSums(paths, model, money, opts);
    const totals = totalOf(sums, money.currency);
    return { rows: rowsOf(sums, money.currency), totals, ...moneyOf(totals) };
  }
  const sums = new Map(ATTRIBUTION_MODELS.map((m) => [m, creditSums(paths, m, money, opts)]));
  const rows = allModelsByCampaign(
    new Map([...sums].map(([m, s]) => [m, rowsOf(s, money.currency)])),
  );
  const totals = Object.fromEntries(
    [...sums].map(([m, s]) => [m, totalOf(s, money.currency)]),
  ) as Record<AttributionModel, CreditMoneyFigures>;
  return {
    models: ATTRIBUTION_MODELS,
    rows,
    totals,
    ...moneyOf(totals[ATTRIBUTION_MODELS[0] as AttributionModel]),
  };
}

function toModelPath(p: ConversionPathRecord) {
  return { time: p.event_time, value: p.value ?? 0, touches: p.touches };
}
