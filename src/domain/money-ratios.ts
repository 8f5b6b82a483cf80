import { type MoneyByCurrency, moneyText } from './money.js';

const RATIO_DIGITS = 10_000;

/** The money a row's CPA and ROAS divide, as converted into the report's currency. */
export interface RatioMoney {
  /** The report's currency; null when it names none. */
  currency: string | null;
  conversions: number;
  /** Revenue converted into `currency`; null when it names none. */
  revenue: number | null;
  /** Cost converted into `currency`; null when the row has none that converted. */
  cost: number | null;
  /** Revenue no rate converted, per currency, and how many conversions carried it. */
  unconverted_revenue: MoneyByCurrency;
  unconverted_conversions: number;
  /** Cost no rate converted, per currency, and how many cost rows carried it. */
  unconverted_cost: MoneyByCurrency;
  unconverted_cost_rows: number;
}

/** Cost per conversion, return on ad spend, and why they are empty when money was left out. */
export interface MoneyRatios {
  cpa: number | null;
  roas: number | null;
  /** Why `cpa` or `roas` is null although the row has cost: money no rate converted. */
  ratio_note: string | null;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const some = (m: MoneyByCurrency) => Object.keys(m).length > 0;
const divide = (a: number, b: number) => Math.round((a / b) * RATIO_DIGITS) / RATIO_DIGITS;

/**
 * CPA (cost / conversions) and ROAS (revenue / cost) of a row. Either is null when it is
 * undefined (no cost, no conversion, a cost of 0), and null with `ratio_note` when part of the
 * money it divides could not be converted (issue 23 review, finding 8): a ratio of the part
 * that converted would understate it (cost left out lowers CPA, revenue left out lowers ROAS).
 */
export function moneyRatios(m: RatioMoney): MoneyRatios {
  const costLeftOut = some(m.unconverted_cost);
  const revenueLeftOut = some(m.unconverted_revenue);
  const hasCost = m.cost !== null || costLeftOut;
  const cpaBlocked = hasCost && m.conversions !== 0 && costLeftOut;
  const roasBlocked = hasCost && (costLeftOut || (m.cost !== 0 && revenueLeftOut));
  const cpa =
    m.cost === null || m.conversions === 0 || cpaBlocked ? null : divide(m.cost, m.conversions);
  const roas =
    m.cost === null || m.cost === 0 || m.revenue === null || roasBlocked
      ? null
      : divide(m.revenue, m.cost);
  const blocked = [cpaBlocked && 'cpa', roasBlocked && 'roas'].filter(Boolean);
  if (blocked.length === 0) return { cpa, roas, ratio_note: null };
  const parts: string[] = [];
  if (costLeftOut)
    parts.push(`${plural(m.unconverted_cost_rows, 'cost row')} (${moneyText(m.unconverted_cost)})`);
  if (roasBlocked && revenueLeftOut)
    parts.push(
      `the revenue of ${plural(m.unconverted_conversions, 'conversion')} ` +
        `(${moneyText(m.unconverted_revenue)})`,
    );
  const why =
    m.currency === null
      ? 'could not be converted (the report names no currency)'
      : `could not be converted into ${m.currency} (no rate for the day; see unconverted)`;
  return {
    cpa,
    roas,
    ratio_note: `${blocked.join(' and ')} ${blocked.length === 1 ? 'is' : 'are'} empty: ${parts.join(' and ')} ${why}`,
  };
}

/** The report-level note that goes with any row's `ratio_note`. */
export const RATIO_NOTE =
  'cpa and roas are empty where part of the cost or revenue they divide could not be ' +
  "converted: each row's ratio_note names what was left out";
