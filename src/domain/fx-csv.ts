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

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits CSV text into records of cells (RFC 4180: quoted cells may hold commas, doubled
 * quotes and line breaks), with the 1-based line each record starts on. One pass that
 * slices cells out of the text, linear in its length.
 */
function csvRecords(text: string): Array<{ line: number; cells: string[] }> {
  const out: Array<{ line: number; cells: string[] }> = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let cells: string[] = [];
  let start = line;
  while (i <= n) {
    let cell: string;
    if (text.charCodeAt(i) === QUOTE) {
      const parts: string[] = [];
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) {
          parts.push(text.slice(from));
          i = n;
          break;
        }
        parts.push(text.slice(from, q));
        if (text.charCodeAt(q + 1) === QUOTE) {
          parts.push('"');
          from = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      cell = parts.join('');
      for (const p of parts)
        for (let k = p.indexOf('\n'); k !== -1; k = p.indexOf('\n', k + 1)) line++;
      // Anything between the closing quote and the delimiter is kept, as spreadsheets do.
      let j = i;
      while (j < n && !isDelimiter(text.charCodeAt(j))) j++;
      cell += text.slice(i, j);
      i = j;
    } else {
      let j = i;
      while (j < n && !isDelimiter(text.charCodeAt(j))) j++;
      cell = text.slice(i, j);
      i = j;
    }
    cells.push(cell);
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i++;
      continue;
    }
    if (cells.length > 1 || (cells[0] as string).trim() !== '') out.push({ line: start, cells });
    cells = [];
    if (c === CR && text.charCodeAt(i + 1) === LF) i++;
    i++;
    line++;
    start = line;
  }
  return out;
}

function isDelimiter(c: number): boolean {
  return c === COMMA || c === LF || c === CR;
}

/**
 * Reads a rates CSV: a header naming the columns `date,from,to,rate` (any order, any case,
 * other columns ignored), then one rate a line. Good lines are kept whatever the bad ones
 * say; each bad line is named with its field. Unusable as a whole (no header, too many
 * lines) answers `ok: false`.
 */
export function parseFxCsv(text: string): FxCsvResult {
  const records = csvRecords(text);
  const header = records[0];
  if (!header) return { ok: false, errors: [{ field: 'body', message: 'the CSV is empty' }] };
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
    const raw = Object.fromEntries(COLUMNS.map((c, i) => [c, r.cells[at[i] as number] ?? '']));
    const checked = checkFxRate(raw);
    if (checked.ok) rates.push(checked.rate);
    else for (const e of checked.errors) errors.push({ index, line: r.line, ...e });
  });
  return { ok: true, rates, errors };
}
