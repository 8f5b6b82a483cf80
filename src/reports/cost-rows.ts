import { dateOfDay } from '../domain/fx-rates.js';
import { addMoney, type MoneyByCurrency, roundMoney, sumMoney } from '../domain/money.js';
import type { CostLine } from '../store/store.js';
import type { CreditMoney } from './attribution-money.js';
import { unconvertedReason } from './report-money.js';

/** A row's cost: in the report's currency, per currency as imported, what did not convert. */
export interface CostFigures {
  /** Cost in the report's currency; null when the row has none (or none could be named). */
  cost: number | null;
  cost_by_currency: MoneyByCurrency;
  unconverted_cost: MoneyByCurrency;
  /** How many cost rows (a campaign's spend of a day) brought `unconverted_cost`. */
  unconverted_cost_rows: number;
  /** Impressions and clicks the imports reported for the row; null when none said. */
  impressions: number | null;
  clicks: number | null;
}

/** Spend of one currency no rate converted, and why. */
export interface UnconvertedCost {
  currency: string;
  cost: number;
  from: string;
  to: string;
  reason: string;
}

export const NO_COST: CostFigures = {
  cost: null,
  cost_by_currency: {},
  unconverted_cost: {},
  unconverted_cost_rows: 0,
  impressions: null,
  clicks: null,
};

const plus = (a: number | null, b: number | null) =>
  a === null && b === null ? null : (a ?? 0) + (b ?? 0);

/** The costs of a report grouped by row, each line converted with the rate of its own day. */
export class CostTable {
  private readonly rows = new Map<string, CostFigures>();
  private readonly missed = new Map<string, { from: number; to: number; cost: number }>();

  constructor(
    lines: ReadonlyArray<CostLine & { currency: string }>,
    keyOf: (c: CostLine) => string,
    private readonly money: CreditMoney,
  ) {
    for (const c of lines) {
      const key = keyOf(c);
      const row = this.rows.get(key) ?? { ...NO_COST, cost_by_currency: {}, unconverted_cost: {} };
      addMoney(row.cost_by_currency, c.currency, c.cost);
      const converted = c.cost === 0 ? 0 : money.convert(c.currency, c.day, c.cost);
      if (converted === null) {
        addMoney(row.unconverted_cost, c.currency, c.cost);
        row.unconverted_cost_rows += 1;
        const m = this.missed.get(c.currency);
        this.missed.set(c.currency, {
          from: Math.min(m?.from ?? c.day, c.day),
          to: Math.max(m?.to ?? c.day, c.day),
          cost: (m?.cost ?? 0) + c.cost,
        });
      } else if (money.currency !== null) row.cost = (row.cost ?? 0) + converted;
      row.impressions = plus(row.impressions, c.impressions);
      row.clicks = plus(row.clicks, c.clicks);
      this.rows.set(key, row);
    }
    for (const row of this.rows.values())
      if (row.cost !== null && money.currency) row.cost = roundMoney(row.cost, money.currency);
  }

  get(key: string): CostFigures {
    return this.rows.get(key) ?? NO_COST;
  }

  keys(): string[] {
    return [...this.rows.keys()];
  }

  /** Every row's cost summed (per currency, and converted). */
  total(): CostFigures {
    let t: CostFigures = { ...NO_COST };
    for (const r of this.rows.values())
      t = {
        cost: plus(t.cost, r.cost),
        cost_by_currency: sumMoney(t.cost_by_currency, r.cost_by_currency),
        unconverted_cost: sumMoney(t.unconverted_cost, r.unconverted_cost),
        unconverted_cost_rows: t.unconverted_cost_rows + r.unconverted_cost_rows,
        impressions: plus(t.impressions, r.impressions),
        clicks: plus(t.clicks, r.clicks),
      };
    if (t.cost !== null && this.money.currency) t.cost = roundMoney(t.cost, this.money.currency);
    return t;
  }

  /** The spend no rate converted, per currency, with its days and the reason. */
  unconverted(): UnconvertedCost[] {
    return [...this.missed.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, m]) => ({
        currency,
        cost: roundMoney(m.cost, currency),
        from: dateOfDay(m.from),
        to: dateOfDay(m.to),
        reason: unconvertedReason(currency, this.money.currency, m.from),
      }));
  }
}
