import { describe, expect, it } from 'vitest';
import { cheapestCpuMs } from '../../test/helpers/cpu-time.js';
import { parseFxCsv } from './fx-csv.js';
import { calendarDay, checkFxRate, dayOfDate, FxTable } from './fx-rates.js';
import { minorDigits, roundMoney, subtractMoney, sumMoney } from './money.js';

const day = dayOfDate;

describe('exchange rates', () => {
  const table = new FxTable([
    { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.9 },
    { date: '2026-11-10', from: 'USD', to: 'EUR', rate: 0.8 },
    { date: '2026-11-05', from: 'EUR', to: 'GBP', rate: 0.85 },
    { date: '2026-11-01', from: 'EUR', to: 'JPY', rate: 160 },
  ]);

  it('FX01 the rate in force on a day is the newest dated that day or before', () => {
    expect(table.rateOn('USD', 'EUR', day('2026-11-01'))?.rate).toBe(0.9);
    expect(table.rateOn('USD', 'EUR', day('2026-11-09'))?.rate).toBe(0.9);
    expect(table.rateOn('USD', 'EUR', day('2026-11-10'))?.rate).toBe(0.8);
    expect(table.rateOn('USD', 'EUR', day('2027-03-01'))?.rate).toBe(0.8);
  });

  it('FX02 a day before the first rate has none: a later rate is never used for it', () => {
    expect(table.rateOn('USD', 'EUR', day('2026-10-31'))).toBeNull();
    expect(table.rateOn('EUR', 'GBP', day('2026-11-04'))).toBeNull();
    expect(table.rateOn('CHF', 'EUR', day('2026-11-20'))).toBeNull();
  });

  it('FX03 a pair given the other way round is inverted; a currency into itself is 1', () => {
    expect(table.rateOn('GBP', 'EUR', day('2026-11-05'))?.rate).toBeCloseTo(1 / 0.85, 12);
    expect(table.rateOn('EUR', 'USD', day('2026-11-10'))?.rate).toBeCloseTo(1.25, 12);
    expect(table.rateOn('SEK', 'SEK', day('2020-01-01'))?.rate).toBe(1);
  });

  it('FX04 the newer of a direct and an inverse rate wins', () => {
    const t = new FxTable([
      { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.9 },
      { date: '2026-11-03', from: 'EUR', to: 'USD', rate: 1.25 },
    ]);
    expect(t.rateOn('USD', 'EUR', day('2026-11-02'))?.rate).toBe(0.9);
    expect(t.rateOn('USD', 'EUR', day('2026-11-03'))?.rate).toBeCloseTo(0.8, 12);
  });

  it('FX05 pairs never given go through one common currency (rates against EUR)', () => {
    // 1 USD = 0.8 EUR and 1 EUR = 160 JPY, so 1 USD = 128 JPY from the 10th.
    expect(table.rateOn('USD', 'JPY', day('2026-11-10'))?.rate).toBeCloseTo(128, 9);
    expect(table.rateOn('JPY', 'GBP', day('2026-11-05'))?.rate).toBeCloseTo(0.85 / 160, 12);
    expect(table.rateOn('JPY', 'GBP', day('2026-11-04'))).toBeNull();
  });

  it('FX06 a bad rate names every bad field', () => {
    const bad = checkFxRate({ date: '2026-02-30', from: 'usd', to: 'EURO', rate: -1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.field)).toEqual(['date', 'to', 'rate']);
    const same = checkFxRate({ date: '2026-02-03', from: 'EUR', to: 'eur', rate: 1 });
    expect(same.ok ? [] : same.errors.map((e) => e.field)).toEqual(['to']);
    const ok = checkFxRate({ date: '2026-02-03', from: 'usd', to: 'eur', rate: '0.92' });
    expect(ok).toEqual({
      ok: true,
      rate: { date: '2026-02-03', from: 'USD', to: 'EUR', rate: 0.92 },
    });
    expect(checkFxRate({ date: '2026-02-03', from: 'USD', to: 'EUR', rate: '0x10' }).ok).toBe(
      false,
    );
  });
});

describe('calendar days', () => {
  it('FX12 calendarDay is the day Date reads for every date that exists, and null for the rest', () => {
    const viaDate = (text: string) => {
      const ms = Date.parse(`${text}T00:00:00Z`);
      return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text
        ? ms / 86_400_000
        : null;
    };
    const texts: string[] = ['0000-01-01', '0000-02-29', '0099-12-31', '9999-12-31', '2026-1-01'];
    for (const y of [1600, 1700, 1899, 1900, 1969, 1970, 2000, 2024, 2025, 2100, 2400]) {
      for (let m = 0; m <= 13; m++) {
        for (let d = 0; d <= 32; d++) {
          const p = (n: number, w: number) => String(n).padStart(w, '0');
          texts.push(`${p(y, 4)}-${p(m, 2)}-${p(d, 2)}`);
        }
      }
    }
    for (const t of texts) expect(calendarDay(t), t).toBe(viaDate(t));
  });
});

describe('rates CSV import', () => {
  it('FX07 good lines are kept, each bad line is named with its line and field', () => {
    const csv =
      '\uFEFFRate,From,To,Date,source\r\n' +
      '0.92,USD,EUR,2026-11-01,ecb\r\n' +
      '\r\n' +
      'abc,USD,EUR,2026-11-02,ecb\r\n' +
      '"1,5",USD,EUR,2026-11-03,"a ""quoted""\nnote"\n' +
      '160,EUR,JPY,2026-11-01,ecb';
    const r = parseFxCsv(csv);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rates).toEqual([
      { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.92 },
      { date: '2026-11-01', from: 'EUR', to: 'JPY', rate: 160 },
    ]);
    expect(r.errors).toEqual([
      expect.objectContaining({ index: 1, line: 4, field: 'rate' }),
      expect.objectContaining({ index: 2, line: 5, field: 'rate' }),
    ]);
  });

  it('FX08 a CSV without the four columns is refused as a whole', () => {
    const r = parseFxCsv('day,currency,rate\n2026-11-01,USD,0.9\n');
    expect(r).toEqual({
      ok: false,
      errors: [
        expect.objectContaining({ field: 'header', message: expect.stringMatching(/date/) }),
      ],
    });
    expect(parseFxCsv('').ok).toBe(false);
  });

  it('FX09 parsing is linear: 50,000 lines and a 2 MB quoted cell take under 2 s of CPU', async () => {
    const lines = ['date,from,to,rate'];
    for (let i = 0; i < 50_000; i++) lines.push(`2026-11-01,USD,EUR,1.${i}`);
    const text = lines.join('\n');
    const quotes = `date,from,to,rate\n"${'"'.repeat(2_000_000)}`;
    let rates = 0;
    let quotedOk = false;
    const cpu = await cheapestCpuMs(() => {
      const r = parseFxCsv(text);
      rates = r.ok ? r.rates.length : 0;
      quotedOk = parseFxCsv(quotes).ok;
    });
    expect(rates).toBe(50_000);
    expect(quotedOk).toBe(true);
    expect(cpu).toBeLessThan(2000);
  });
  it('FX11 mixed line ends, a CR LF inside a quoted cell and an unclosed quote keep line numbers', () => {
    const csv =
      'date,from,to,rate,note\r\n' +
      '2026-11-01,USD,EUR,0.9,"two\r\nlines"\n' +
      '2026-11-02,USD,EUR,x,\r' +
      '2026-11-03,USD,EUR,0.8,ok\n' +
      '2026-11-04,USD,EUR,0.7,"never closed\nat all';
    const r = parseFxCsv(csv);
    expect(r).toEqual({
      ok: true,
      rates: [
        { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.9 },
        { date: '2026-11-03', from: 'USD', to: 'EUR', rate: 0.8 },
      ],
      errors: [
        expect.objectContaining({ index: 1, line: 4, field: 'rate' }),
        {
          index: 3,
          line: 6,
          field: 'line',
          message: 'a quote opened on this line is never closed',
        },
      ],
    });
  });
});

describe('money', () => {
  it('FX10 amounts round to their currency minor unit; sums stay per currency', () => {
    expect([minorDigits('EUR'), minorDigits('JPY'), minorDigits('BHD')]).toEqual([2, 0, 3]);
    expect(roundMoney(0.1 + 0.2, 'EUR')).toBe(0.3);
    expect(roundMoney(1234.5678, 'BHD')).toBe(1234.568);
    expect(sumMoney({ EUR: 10 }, { USD: 5, EUR: 0.5 })).toEqual({ EUR: 10.5, USD: 5 });
    expect(subtractMoney({ EUR: 10, USD: 5 }, { EUR: 10 })).toEqual({ USD: 5 });
  });
});
