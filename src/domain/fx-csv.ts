import { csvRecords } from './csv-records.js';
import { checkFxRate, type FxRate } from './fx-rates.js';
import type { FieldError } from './validation-error.js';

/** Data lines one import may hold: 40 years of daily rates for 5 currencies. */
export const MAX_FX_IMPORT_ROWS = 100_000;
const COLUMNS = ['date', 'from', 'to', 'rate'] as const;

/** A problem with one line of an import; `index` counts data lines from 0, `line` from 1. */
export interface FxRowError extends FieldError {
  index: number;
  line: number;
}

export type FxCsvResult =
  | { ok: true; rates: FxRate[]; errors: FxRowError[] }
  | { ok: false; errors: FieldError[] };

/**
 * Reads a rates CSV: a header naming the columns `date,from,to,rate` (any order, any case,
 * other columns ignored), then one rate a line. Good lines are kept whatever the bad ones
 * say; each bad line is named with its field. Unusable as a whole (no header, too many
 * lines) answers `ok: false`.
 */
export function parseFxCsv(text: string): FxCsvResult {
  // The header, the rows allowed and one more, to know there are too many.
  const records = csvRecords(text, MAX_FX_IMPORT_ROWS + 2);
  const header = records[0];
  if (!header) return { ok: false, errors: [{ field: 'body', message: 'the CSV is empty' }] };
  if (!('cells' in header))
    return { ok: false, errors: [{ field: 'header', message: header.error }] };
  const names = header.cells.map((c) => c.trim().toLowerCase());
  const at = COLUMNS.map((c) => names.indexOf(c));
  const missing = COLUMNS.filter((_, i) => at[i] === -1);
  if (missing.length > 0)
    return {
      ok: false,
      errors: [
        {
          field: 'header',
          message: `must name the columns date,from,to,rate (missing ${missing.join(', ')})`,
        },
      ],
    };
  if (records.length - 1 > MAX_FX_IMPORT_ROWS)
    return {
      ok: false,
      errors: [{ field: 'body', message: `at most ${MAX_FX_IMPORT_ROWS} lines per import` }],
    };
  const rates: FxRate[] = [];
  const errors: FxRowError[] = [];
  records.slice(1).forEach((r, index) => {
    if (!('cells' in r)) {
      errors.push({ index, line: r.line, field: 'line', message: r.error });
      return;
    }
    const raw = Object.fromEntries(COLUMNS.map((c, i) => [c, r.cells[at[i] as number] ?? '']));
    const checked = checkFxRate(raw);
    if (checked.ok) rates.push(checked.rate);
    else for (const e of checked.errors) errors.push({ index, line: r.line, ...e });
  });
  return { ok: true, rates, errors };
}
