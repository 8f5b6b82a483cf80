import { dateOfDay, type FxTable } from '../domain/fx-rates.js';
import { NO_CURRENCY } from '../domain/money.js';
import { RatesUsed, type UsedRate } from '../domain/rates-used.js';
import { unconvertedReason } from './report-money.js';

export type { UsedRate };

/** Credited revenue of one currency that no rate could convert, and why. */
export interface UnconvertedCredit {
  currency: string;
  revenue: number;
  from: string;
  to: string;
  reason: string;
}

interface Span {
  from: number;
  to: number;
}

const widen = (s: Span | undefined, day: number): Span => ({
  from: Math.min(s?.from ?? day, day),
  to: Math.max(s?.to ?? day, day),
});

/**
 * Converts the credited revenue of the multi-touch report into its currency, each amount with
 * the rate in force on its conversion's UTC day (DESIGN §6: money is never summed across
 * currencies), and remembers which dated rates were used and what could not be converted.
 */
export class CreditMoney {
  private readonly used = new RatesUsed();
  private readonly missed = new Map<string, Span>();

  constructor(
    private readonly fx: FxTable,
    /** The report's currency; null converts nothing. */
    readonly currency: string | null,
  ) {}

  /** `amount` of `currency` on `day` in the report's currency, or null when it cannot be. */
  convert(currency: string, day: number, amount: number): number | null {
    if (currency === this.currency) return amount;
    const applied =
      this.currency === null || currency === NO_CURRENCY
        ? null
        : this.fx.rateOn(currency, this.currency, day);
    if (!applied) {
      this.missed.set(currency, widen(this.missed.get(currency), day));
      return null;
    }
    this.used.note(currency, this.currency as string, applied, day);
    return amount * applied.rate;
  }

  /** Every dated rate used, by pair and date. */
  rates(): UsedRate[] {
    return this.used.list();
  }

  /** The revenue left unconverted, per currency, with its days and the reason. */
  unconverted(revenue: Readonly<Record<string, number>>): UnconvertedCredit[] {
    return Object.keys(revenue)
      .sort()
      .map((currency) => {
        const m = this.missed.get(currency) ?? { from: 0, to: 0 };
        return {
          currency,
          revenue: revenue[currency] as number,
          from: dateOfDay(m.from),
          to: dateOfDay(m.to),
          reason: unconvertedReason(currency, this.currency, m.from),
        };
      });
  }
}
