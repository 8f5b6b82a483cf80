import type { FxTable } from '../domain/fx-rates.js';
import { addMoney, type MoneyByCurrency, NO_CURRENCY, roundMoney } from '../domain/money.js';
import { RatesUsed, type UsedRate } from '../domain/rates-used.js';
import { type DayAmount, dayKey, type RowMoney, type Unconverted } from '../domain/report.js';

interface Missed {
  from: number;
  to: number;
}

/**
 * Converts the money of a report's rows into its currency, each amount with the rate in
 * force on its own day, and remembers what could not be converted. Amounts are never added
 * across currencies unconverted.
 */
export class ReportMoney {
  private readonly missed = new Map<string, Missed>();
  private readonly used = new RatesUsed();

  constructor(
    private readonly fx: FxTable,
    /** The report's currency; null converts nothing. */
    readonly currency: string | null,
  ) {}

  /** Revenue and spend of one row. */
  row(revenue: readonly DayAmount[], cost: readonly DayAmount[]): RowMoney {
    const r = this.convert(revenue);
    const c = this.convert(cost);
    return {
      revenue: r.total,
      revenue_by_currency: r.by_currency,
      unconverted_revenue: r.unconverted,
      unconverted_conversions: r.left_out,
      cost: cost.length === 0 ? null : c.total,
      cost_by_currency: c.by_currency,
      unconverted_cost: c.unconverted,
      unconverted_cost_rows: c.left_out,
    };
  }

  private convert(amounts: readonly DayAmount[]) {
    const by_currency: MoneyByCurrency = {};
    const unconverted: MoneyByCurrency = {};
    let total = 0;
    // Conversions or cost rows whose money is in `unconverted`.
    let left_out = 0;
    for (const a of amounts) {
      addMoney(by_currency, a.currency, a.amount);
      // Nothing is nothing in any currency: it needs no rate.
      if (a.amount === 0) continue;
      const rate =
        this.currency === null
          ? null
          : a.currency === this.currency
            ? 1
            : a.currency === NO_CURRENCY
              ? null
              : this.applied(a.currency, this.currency, a.day);
      if (rate !== null) total += a.amount * rate;
      else {
        addMoney(unconverted, a.currency, a.amount);
        left_out += a.count ?? 1;
        const m = this.missed.get(a.currency);
        this.missed.set(a.currency, {
          from: Math.min(m?.from ?? a.day, a.day),
          to: Math.max(m?.to ?? a.day, a.day),
        });
      }
    }
    // With no currency to name, a row with money has no single figure; one without has 0.
    const named = this.currency === null ? (amounts.length > 0 ? null : 0) : total;
    return {
      total: named === null ? null : roundMoney(named, this.currency ?? NO_CURRENCY),
      by_currency,
      unconverted,
      left_out,
    };
  }

  /** The rate of `from` into `to` on `day`, remembered when used; null when none is in force. */
  private applied(from: string, to: string, day: number): number | null {
    const r = this.fx.rateOn(from, to, day);
    if (r) this.used.note(from, to, r, day);
    return r?.rate ?? null;
  }

  /** Every dated rate the report converted with, and the days it converted. */
  rates(): UsedRate[] {
    return this.used.list();
  }

  /** What the totals left unconverted, per currency, with the days and the reason. */
  unconverted(revenue: MoneyByCurrency, cost: MoneyByCurrency): Unconverted[] {
    const currencies = [...new Set([...Object.keys(revenue), ...Object.keys(cost)])].sort();
    return currencies.map((currency) => {
      const m = this.missed.get(currency) ?? { from: 0, to: 0 };
      return {
        currency,
        revenue: revenue[currency] ?? 0,
        cost: cost[currency] ?? 0,
        from: dayKey(m.from),
        to: dayKey(m.to),
        reason: this.reason(currency, m.from),
      };
    });
  }

  private reason(currency: string, firstDay: number): string {
    return unconvertedReason(currency, this.currency, firstDay);
  }
}

/** Why money in `currency` from `firstDay` on could not be converted into `into`. */
export function unconvertedReason(currency: string, into: string | null, firstDay: number): string {
  if (currency === NO_CURRENCY) return 'sent without a currency';
  if (into === null)
    return 'the report names no currency: set reporting_currency or ask with currency=';
  return `no ${currency}→${into} rate in force on ${dayKey(firstDay)} (add one at /api/fx-rates)`;
}

/**
 * The currency of a report: the one asked for, else the environment's reporting currency,
 * else the only currency of all its money; null when there are several.
 */
export function reportCurrency(asked: string | null, amounts: Iterable<DayAmount>): string | null {
  if (asked) return asked;
  let only: string | null = null;
  for (const a of amounts) {
    if (only !== null && a.currency !== only) return null;
    only = a.currency;
  }
  return only;
}
