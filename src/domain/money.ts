/**
 * Money as reports keep it: an amount per ISO 4217 currency, never one sum across currencies
 * (DESIGN §6). Converting to one currency is the job of reports/fx-conversion.ts.
 */

/** ISO 4217's code for "no currency": a value sent without a currency is kept under it. */
export const NO_CURRENCY = 'XXX';

const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const minorDigitsCache = new Map<string, number>();

/** Amounts by currency code. */
export type MoneyByCurrency = Record<string, number>;

/** True for a currency code ICU knows (ISO 4217, upper case). */
export function isCurrencyCode(code: string): boolean {
  return KNOWN_CURRENCIES.has(code);
}

/** Digits after the point of a currency's minor unit: 2 for EUR, 0 for JPY, 3 for BHD. */
export function minorDigits(currency: string): number {
  let d = minorDigitsCache.get(currency);
  if (d === undefined) {
    d = isCurrencyCode(currency)
      ? (new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2)
      : 2;
    minorDigitsCache.set(currency, d);
  }
  return d;
}

/** An amount rounded to its currency's minor unit (float dust never reaches a report). */
export function roundMoney(amount: number, currency: string): number {
  const f = 10 ** minorDigits(currency);
  return Math.round(amount * f) / f;
}

/** Adds `amount` in `currency` to `into`, rounded to the minor unit. */
export function addMoney(into: MoneyByCurrency, currency: string, amount: number): void {
  into[currency] = roundMoney((into[currency] ?? 0) + amount, currency);
}

/** `a + b`, currency by currency. */
export function sumMoney(a: MoneyByCurrency, b: MoneyByCurrency): MoneyByCurrency {
  const out: MoneyByCurrency = { ...a };
  for (const [c, v] of Object.entries(b)) addMoney(out, c, v);
  return out;
}

/** `a - b`, currency by currency; currencies that come to zero are left out. */
export function subtractMoney(a: MoneyByCurrency, b: MoneyByCurrency): MoneyByCurrency {
  const out: MoneyByCurrency = { ...a };
  for (const [c, v] of Object.entries(b)) addMoney(out, c, -v);
  for (const c of Object.keys(out)) if (out[c] === 0) delete out[c];
  return out;
}

/** Money per currency as a reader writes it: `EUR 35; USD 12.5`. */
export function moneyText(m: MoneyByCurrency): string {
  return Object.entries(m)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, v]) => `${c} ${v}`)
    .join('; ');
}
