/**
 * The CSV reader of the cost and rate imports against csv-parse, configured as the imports
 * used it before (its reference): on any text of commas, quotes, line breaks of every kind,
 * spaces, BOMs and letters, the same records, cells and starting lines.
 */
import { type CsvError, type Options, parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CsvRecord, csvRecords } from './csv-records.js';

const LINE_BREAKS = /\r\n|\r|\n/g;

/** What the imports read with csv-parse 5 before csv-records.ts. */
function reference(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 1;
  const options: Options & { on_skip: (err: CsvError | undefined) => void } = {
    bom: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
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

const csvText = fc
  .array(fc.constantFrom('a', 'b', '1', ',', '"', '\n', '\r', '\r\n', ' ', '\uFEFF'), {
    maxLength: 60,
  })
  .map((parts) => parts.join(''));

describe('CSV records', () => {
  it('CSV01 the same records, cells and lines as csv-parse on any text', () => {
    fc.assert(
      fc.property(csvText, (text) => {
        expect(csvRecords(text)).toEqual(reference(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('CSV02 reading stops after maxRecords records, the first of them unchanged', () => {
    fc.assert(
      fc.property(csvText, fc.integer({ min: 0, max: 5 }), (text, max) => {
        expect(csvRecords(text, max)).toEqual(reference(text).slice(0, max));
      }),
      { numRuns: 2000 },
    );
  });

  it('CSV03 quoted cells keep commas, doubled quotes and line breaks; lines count them', () => {
    expect(csvRecords('\uFEFFa,"b,c"\r\n"d""e","f\r\ng"\n\nh')).toEqual([
      { line: 1, cells: ['a', 'b,c'] },
      { line: 2, cells: ['d"e', 'f\r\ng'] },
      { line: 5, cells: ['h'] },
    ]);
  });
});
