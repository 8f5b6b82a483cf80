import { type AppliedRate, dateOfDay } from './fx-rates.js';

/** A dated rate a report converted money with, and the days it was used for. */
export interface UsedRate {
  from: string;
  to: string;
  rate: number;
  /** The date the rate is dated (for a rate through a third currency: its older leg's). */
  date: string;
  /** First and last UTC day of the money converted with it. */
  first_used: string;
  last_used: string;
}

interface Entry {
  from: string;
  to: string;
  applied: AppliedRate;
  first: number;
  last: number;
}

/** Remembers which dated rates a report used, so it can name them beside its figures. */
export class RatesUsed {
  private readonly used = new Map<string, Entry>();

  /** `applied` (from `FxTable.rateOn`) converted money of `from` into `to` on `day`. */
  note(from: string, to: string, applied: AppliedRate, day: number): void {
    const key = `${from}>${to}:${applied.rate}@${applied.since_day}`;
    const e = this.used.get(key);
    if (e) {
      e.first = Math.min(e.first, day);
      e.last = Math.max(e.last, day);
    } else this.used.set(key, { from, to, applied, first: day, last: day });
  }

  /** Every rate used, by pair and date. */
  list(): UsedRate[] {
    return [...this.used.values()]
      .map((e) => ({
        from: e.from,
        to: e.to,
        rate: e.applied.rate,
        date: dateOfDay(e.applied.since_day),
        first_used: dateOfDay(e.first),
        last_used: dateOfDay(e.last),
      }))
      .sort(
        (a, b) =>
          a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.date.localeCompare(b.date),
      );
  }
}
