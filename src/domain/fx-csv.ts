import { type CsvError, type Options, parse } from 'csv-parse/sync';
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

/** One record of the file: its cells and the 1-based line it starts on, or why it is unreadable. */
export type CsvRecord = { line: number; cells: string[] } | { line: number; error: string };

/** csv-parse calls `on_skip` for a record it drops (5.x runtime; missing from its typings). */
interface OnSkip {
  on_skip: (err: CsvError | undefined) => void;
}

const LINE_BREAKS = /\r\n|\r|\n/g;

/**
 * Splits CSV text into records with csv-parse (RFC 4180: quoted cells may hold commas,
 * doubled quotes and line breaks; a BOM is dropped; CRLF, LF and CR all end a line, mixed in
 * one file as spreadsheets save them), with the line each record starts on. Blank lines are
 * records too (csv-parse would otherwise skip them without saying) so the line count stays
 * exact; the caller drops them. A quote that is never closed makes its record unreadable
 * instead of the whole file.
 */
export function csvRecords(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  // csv-parse counts a CR LF inside a quoted cell as two lines; count the breaks ourselves.
  let line = 1;
  const options: Options & OnSkip = {
    bom: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    // A stray quote (`5"`, `"1"2`) stays in its cell, as spreadsheets keep it; the cell is
    // then refused by the rate's own checks with the field named.
    relax_quotes: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    on_record: (cells: string[]) => {
      out.push({ line, cells });
      for (const c of cells) line += c.match(LINE_BREAKS)?.length ?? 0;
      line++;
      return null;
    },
    on_skip: (err) => {
      out.push({
        line,
        error:
          err?.code === 'CSV_QUOTE_NOT_CLOSED'
            ? 'a quote opened on this line is never closed'
            : `cannot be read as CSV (${err?.message ?? 'unknown error'})`,
      });
    },
  };
  parse(text, options);
  return out.filter((r) => !('cells' in r) || r.cells.length > 1 || r.cells[0]?.trim() !== '');
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
