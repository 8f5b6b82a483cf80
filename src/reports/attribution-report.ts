import {
  ATTRIBUTION_MODELS,
  type AttributionModel,
  creditPath,
  journeyOf,
  type PathTouch,
} from '../domain/attribution-models.js';
import type { FxTable } from '../domain/fx-rates.js';
import {
  type Journey,
  MARKOV_STATE_LIMIT,
  type RemovalEffects,
  removalEffectSteps,
} from '../domain/markov-removal.js';
import { type MoneyByCurrency, NO_CURRENCY } from '../domain/money.js';
import { type MoneyRatios, moneyRatios, RATIO_NOTE } from '../domain/money-ratios.js';
import { NO_CAMPAIGN_KEY } from '../domain/touch-channel.js';
import { drive, each, NEVER } from '../pacing/pausing.js';
import type { TurnGate } from '../pacing/turn-gate.js';
import type { ConversionPathRecord, CostLine } from '../store/store.js';
import { CreditMoney, type UnconvertedCredit, type UsedRate } from './attribution-money.js';
import { type CostFigures, CostTable } from './cost-rows.js';
import { BY_CAMPAIGN, type ReportDimension } from './report-dimension.js';
import { reportCurrency } from './report-money.js';

/**
 * Credited conversions and revenue under one model. Revenue is kept per currency as sent
 * (`XXX`: sent without one) and never added across currencies; `revenue` is in the report's
 * currency, converted with the rate of each conversion's day, null when the report names no
 * currency and there is revenue. What no rate converts is in `unconverted_revenue`, brought by
 * `unconverted_conversions` conversions. `cpa` and `roas` divide the row's cost (the same under
 * every model) by this model's figures; null, with `ratio_note`, when part of either side could
 * not be converted.
 */
export interface CreditMoneyFigures extends MoneyRatios {
  conversions: number;
  revenue: number | null;
  revenue_by_currency: MoneyByCurrency;
  unconverted_revenue: MoneyByCurrency;
  unconverted_conversions: number;
}

/** One row (a campaign, channel or source / medium) under one model, with its cost. */
export interface CampaignCredit extends CreditMoneyFigures, CostFigures {
  key: string;
  /** By campaign: the campaign (null for touches that name none). */
  campaign_id?: string | null;
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
  /** How rows are grouped (default: by campaign, no direct row). */
  dimension?: ReportDimension;
  /** Imported and entered costs of the report's days. */
  costs?: readonly CostLine[];
  /** The currency of costs stored without one (spend typed in: the reporting currency). */
  spend_currency?: string | null;
  /**
   * Journeys of the range that ended in no conversion (issue 23 §2), keyed by the dimension's
   * `channelOf` (nonConvertingPaths): the data-driven model's graph gets them besides the
   * converting paths. Left out: converting paths only.
   */
  non_converting?: readonly Journey[];
  /**
   * Answers a promise to await when the event loop is due a turn, else nothing (a TurnGate).
   * Crediting 50,000 paths under every model took 80–330 ms in one go on a SQLite server's
   * event loop, no pixel or event answered meanwhile; the route passes a gate.
   */
  pause?: TurnGate;
  /** Most states of the data-driven model's graph (MARKOV_STATE_LIMIT; less in tests). */
  markov_states?: number;
}

interface RowSum {
  key: string;
  conversions: number;
  converted: number;
  has_revenue: boolean;
  by_currency: Map<string, number>;
  unconverted: Map<string, number>;
  /** The conversions (by path index) some of whose credit here was not converted. */
  left_out: Set<number>;
}

const addTo = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const rounded = (m: Map<string, number>): MoneyByCurrency =>
  Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => [c, round(v)]));

type MoneyPart = Omit<CreditMoneyFigures, keyof MoneyRatios>;

/** The figures of a row, rounded; `revenue` null when there is money and no currency to name. */
function figures(r: RowSum, currency: string | null): MoneyPart {
  return {
    conversions: round(r.conversions),
    revenue: currency === null && r.has_revenue ? null : round(r.converted),
    revenue_by_currency: rounded(r.by_currency),
    unconverted_revenue: rounded(r.unconverted),
    unconverted_conversions: r.left_out.size,
  };
}

const emptySum = (key: string): RowSum => ({
  key,
  conversions: 0,
  converted: 0,
  has_revenue: false,
  by_currency: new Map(),
  unconverted: new Map(),
  left_out: new Set(),
});

/**
 * A path as the models read it: its visits from ignored referrers left out. Read-only: one
 * copy serves every model of a report (modelPathsOf).
 */
type ModelPath = Readonly<{ time: number; value: number; touches: readonly PathTouch[] }>;

function toModelPath(p: ConversionPathRecord, dim: ReportDimension): ModelPath {
  return {
    time: p.event_time,
    value: p.value ?? 0,
    touches: (p.touches as readonly PathTouch[]).filter(dim.keep),
  };
}

/**
 * The paths as the models read them, made once for every model of a report: made again for
 * each of the six, they were a third of `model=all`'s crediting time with the garbage
 * collection of the copies (bench/RESULTS.md, issue 22's sixteenth round).
 */
async function modelPathsOf(
  paths: readonly ConversionPathRecord[],
  opts: ReportOptions,
): Promise<ModelPath[]> {
  const dim = opts.dimension ?? BY_CAMPAIGN;
  const out: ModelPath[] = [];
  await each(paths, (p) => out.push(toModelPath(p, dim)), opts.pause ?? NEVER);
  return out;
}

/**
 * Credits every conversion path under `model` and sums by the dimension's rows. The
 * data-driven model takes its removal effects from the paths of the same range, its states
 * being the rows; a conversion with no touch on its path goes to the direct row when the
 * dimension has one (by channel), else gives no credit (unattributed under every model).
 */
async function creditSums(
  paths: readonly ConversionPathRecord[],
  modelPaths: readonly ModelPath[],
  model: AttributionModel,
  money: CreditMoney,
  opts: ReportOptions,
): Promise<{ sums: RowSum[]; merged: number }> {
  const dim = opts.dimension ?? BY_CAMPAIGN;
  const pause = opts.pause ?? NEVER;
  let markov: RemovalEffects | undefined;
  if (model === 'data_driven') {
    const journeys: Journey[] = [];
    await each(
      modelPaths,
      (p, i) => journeys.push(journeyOf(p, paths[i].lookback_s, dim.keyOf)),
      pause,
    );
    // Keyed as the paths are, by the dimension's rows, ignored visits dropped.
    for (const j of opts.non_converting ?? []) journeys.push(j);
    markov = await drive(removalEffectSteps(journeys, opts.markov_states), pause);
  }
  // Data-driven shares are weighed by state: merged channels split their state's effect.
  const byState = markov?.byState;
  const stateKey = markov
    ? (t: PathTouch) => {
        const k = dim.keyOf(t);
        return markov.stateOf.get(k) ?? k;
      }
    : dim.keyOf;
  const rows = new Map<string, RowSum>();
  const credit = (
    path: number,
    key: string,
    share: number,
    amount: number,
    currency: string,
    day: number,
  ) => {
    const row = rows.get(key) ?? emptySum(key);
    row.conversions += share;
    // Nothing is nothing in any currency: it needs no rate.
    if (amount !== 0) {
      row.has_revenue = true;
      addTo(row.by_currency, currency, amount);
      const converted = money.convert(currency, day, amount);
      if (converted === null) {
        addTo(row.unconverted, currency, amount);
        row.left_out.add(path);
      } else row.converted += converted;
    }
    rows.set(key, row);
  };
  await each(
    paths,
    (p, i) => {
      const mp = modelPaths[i];
      const credits = creditPath(model, mp, {
        lookback_s: p.lookback_s,
        half_life_s: opts.half_life_s,
        removal_effects: byState,
        key_of: stateKey,
      });
      const currency = p.currency ?? NO_CURRENCY;
      const day = Math.floor(p.event_time / DAY_S);
      if (credits.length === 0 && dim.direct !== null)
        credit(i, dim.direct, 1, mp.value, currency, day);
      for (const c of credits) credit(i, dim.keyOf(c.touch), c.share, c.credit, currency, day);
    },
    pause,
  );
  return { sums: [...rows.values()], merged: markov?.merged ?? 0 };
}

/** The totals of a model's rows: every figure summed per currency and converted. */
function totalOf(sums: readonly RowSum[], currency: string | null): MoneyPart {
  const t = emptySum('');
  for (const r of sums) {
    t.conversions += r.conversions;
    t.converted += r.converted;
    t.has_revenue ||= r.has_revenue;
    for (const [c, v] of r.by_currency) addTo(t.by_currency, c, v);
    for (const [c, v] of r.unconverted) addTo(t.unconverted, c, v);
    for (const p of r.left_out) t.left_out.add(p);
  }
  return figures(t, currency);
}

const withRatios = (f: MoneyPart, cost: CostFigures, currency: string | null) => ({
  ...f,
  ...moneyRatios({ ...f, ...cost, currency }),
});

type AllModelsRow = { key: string; campaign_id?: string | null } & CostFigures &
  Record<AttributionModel, CreditMoneyFigures>;

const ZERO: MoneyPart = {
  conversions: 0,
  revenue: 0,
  revenue_by_currency: {},
  unconverted_revenue: {},
  unconverted_conversions: 0,
};

/** The money part of a report: its currency, the dated rates used, what was not converted. */
export interface CreditReportMoney {
  currency: string | null;
  rates: UsedRate[];
  unconverted: UnconvertedCredit[];
  notes: string[];
}

/** Says that the data-driven model's graph merged `merged` rows into one state. */
function mergedNote(merged: number, by: string, states = MARKOV_STATE_LIMIT): string {
  const limit = states.toLocaleString('en-US');
  return `data_driven: the ${merged} ${by} rows with the fewest touches share one state of the Markov graph, which holds at most ${limit}, and so one removal effect`;
}

/** A row's name fields: its key, and its campaign when grouped by campaign. */
function named(key: string, dim: ReportDimension): { key: string; campaign_id?: string | null } {
  return dim.by === 'campaign'
    ? { key, campaign_id: key === NO_CAMPAIGN_KEY ? null : key }
    : { key };
}

/**
 * The multi-touch report of `paths` under one model or all of them, by campaign, channel or
 * source / medium, with each row's cost and, per model, its cost per conversion and ROAS.
 * Money is converted into `asked` (the request's or the environment's reporting currency),
 * else into the only currency of the report's money; with several and none asked, revenue and
 * cost stay per currency. Every model credits each conversion's whole value, so what was left
 * unconverted is the same under all models.
 */
export async function attributionReport(
  paths: readonly ConversionPathRecord[],
  model: AttributionModel | 'all',
  fx: FxTable,
  asked: string | null,
  opts: ReportOptions = {},
) {
  const dim = opts.dimension ?? BY_CAMPAIGN;
  const spend = opts.spend_currency ?? NO_CURRENCY;
  const costs = (opts.costs ?? []).map((c) => ({ ...c, currency: c.currency ?? spend }));
  const amounts = [
    ...paths
      .filter((p) => (p.value ?? 0) !== 0)
      .map((p) => ({
        currency: p.currency ?? NO_CURRENCY,
        day: Math.floor(p.event_time / DAY_S),
        amount: p.value ?? 0,
      })),
    ...costs.filter((c) => c.cost !== 0).map((c) => ({ ...c, amount: c.cost })),
  ];
  const money = new CreditMoney(fx, reportCurrency(asked, amounts));
  const costByRow = new CostTable(costs, dim.costKey, money);
  const costOf = (key: string) => costByRow.get(key);
  const allCost = costByRow.total();
  /** `t`: the totals whose money is listed; `figures`: every row's and total's ratios. */
  const moneyOf = (
    t: MoneyPart,
    figures: readonly MoneyRatios[],
    merged: number,
  ): CreditReportMoney => {
    const unconverted = money.unconverted(t.unconverted_revenue);
    const notes: string[] = [];
    if (unconverted.length > 0)
      notes.push('revenue leaves out the money listed in unconverted (no rate for its day)');
    if (Object.keys(allCost.unconverted_cost).length > 0)
      notes.push('cost leaves out the spend listed in unconverted_cost (no rate for its day)');
    if (figures.some((f) => f.ratio_note !== null)) notes.push(RATIO_NOTE);
    if (merged > 0) notes.push(mergedNote(merged, dim.by, opts.markov_states));
    return { currency: money.currency, rates: money.rates(), unconverted, notes };
  };
  const extra = { by: dim.by, cost: allCost, unconverted_cost: costByRow.unconverted() };
  const keysOf = (sums: readonly RowSum[]) =>
    new Set([...sums.map((s) => s.key), ...costByRow.keys()]);
  const order = (a: { key: string; revenue: number | null; conversions: number }, b: typeof a) =>
    (b.revenue ?? 0) - (a.revenue ?? 0) ||
    b.conversions - a.conversions ||
    a.key.localeCompare(b.key);
  if (model !== 'all') {
    const { sums, merged } = await creditSums(
      paths,
      await modelPathsOf(paths, opts),
      model,
      money,
      opts,
    );
    const byKey = new Map(sums.map((s) => [s.key, s]));
    const rows: CampaignCredit[] = [...keysOf(sums)]
      .map((key) => {
        const cost = costOf(key);
        const s = byKey.get(key);
        return {
          ...named(key, dim),
          ...withRatios(s ? figures(s, money.currency) : ZERO, cost, money.currency),
          ...cost,
        };
      })
      .sort(order);
    const totals = totalOf(sums, money.currency);
    const withTotals = { ...withRatios(totals, allCost, money.currency), ...allCost };
    return {
      ...extra,
      rows,
      totals: withTotals,
      ...moneyOf(totals, [...rows, withTotals], merged),
    };
  }
  // One model after another: each pauses for the event loop while it credits the paths.
  const sums = new Map<AttributionModel, RowSum[]>();
  let merged = 0;
  const modelPaths = await modelPathsOf(paths, opts);
  for (const m of ATTRIBUTION_MODELS) {
    const credited = await creditSums(paths, modelPaths, m, money, opts);
    sums.set(m, credited.sums);
    merged = Math.max(merged, credited.merged);
  }
  const perModel = new Map(
    [...sums].map(([m, s]) => [m, new Map(s.map((r) => [r.key, figures(r, money.currency)]))]),
  );
  const keys = new Set([...sums.values()].flatMap((s) => [...keysOf(s)]));
  const rows: AllModelsRow[] = [...keys]
    .map((key) => {
      const cost = costOf(key);
      return {
        ...named(key, dim),
        ...cost,
        ...(Object.fromEntries(
          ATTRIBUTION_MODELS.map((m) => [
            m,
            withRatios(perModel.get(m)?.get(key) ?? ZERO, cost, money.currency),
          ]),
        ) as Record<AttributionModel, CreditMoneyFigures>),
      };
    })
    .sort((a, b) => order({ key: a.key, ...a.last_touch }, { key: b.key, ...b.last_touch }));
  const totals = Object.fromEntries(
    [...sums].map(([m, s]) => [m, withRatios(totalOf(s, money.currency), allCost, money.currency)]),
  ) as Record<AttributionModel, CreditMoneyFigures>;
  return {
    ...extra,
    models: ATTRIBUTION_MODELS,
    rows,
    totals,
    ...moneyOf(
      totals[ATTRIBUTION_MODELS[0] as AttributionModel],
      [
        ...Object.values(totals),
        ...rows.flatMap((r) => ATTRIBUTION_MODELS.map((m) => r[m as AttributionModel])),
      ],
      merged,
    ),
  };
}
