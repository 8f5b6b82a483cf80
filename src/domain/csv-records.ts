/** One record of a CSV file: its cells and the 1-based line it starts on, or why it is unreadable. */
export type CsvRecord = { line: number; cells: string[] } | { line: number; error: string };

const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const LF = 10;
const BOM = 0xfeff;

/** Line breaks in `s`: CR LF, LF and CR each count one. */
function breaksIn(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF) n++;
    else if (c === CR) {
      n++;
      if (s.charCodeAt(i + 1) === LF) i++;
    }
  }
  return n;
}

/**
 * Splits CSV text into records, RFC 4180: quoted cells may hold commas, doubled quotes and
 * line breaks; a BOM is dropped; CR LF, LF and CR all end a line, mixed in one file as
 * spreadsheets save them. Each record has the line it starts on; blank lines are skipped but
 * counted. Read as csv-parse reads it with `relax_quotes` (the reference of its property
 * test): a quote inside an unquoted cell stays in it (`5"`), and a quoted cell with text after
 * its closing quote (`"1"2`) is kept whole, its quotes with it, up to the next comma; a quote
 * never closed makes the rest of the file one unreadable record.
 *
 * One pass over the text, each character looked at once, and it stops after `maxRecords`
 * records: a file of millions of lines costs no more than its first `maxRecords` (csv-parse
 * took 10 µs a record, and 40 µs for each one of another length than the first: it builds an
 * error with its stack for each, even when told to let them pass).
 */
export function csvRecords(text: string, maxRecords = Number.POSITIVE_INFINITY): CsvRecord[] {
  const out: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === BOM ? 1 : 0;
  let line = 1;
  while (i < n && out.length < maxRecords) {
    const first = text.charCodeAt(i);
    if (first === LF || first === CR) {
      // A blank line: counted, never a record.
      i += first === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }
    const start = line;
    const cells: string[] = [];
    let unclosed = false;
    for (;;) {
      let cell: string;
      if (text.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        let j = from;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) {
            unclosed = true;
            break;
          }
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(from, q + 1);
            from = j = q + 2;
            continue;
          }
          value += text.slice(from, q);
          j = q + 1;
          break;
        }
        if (unclosed) break;
        line += breaksIn(value);
        const after = text.charCodeAt(j);
        if (j >= n || after === COMMA || after === CR || after === LF) {
          cell = value;
          i = j;
        } else {
          // Text after the closing quote: the cell is read as written up to the next comma.
          let k = j;
          for (; k < n; k++) {
            const c = text.charCodeAt(k);
            if (c === COMMA || c === CR || c === LF) break;
          }
          cell = `"${value}"${text.slice(j, k)}`;
          i = k;
        }
      } else {
        let k = i;
        for (; k < n; k++) {
          const c = text.charCodeAt(k);
          if (c === COMMA || c === CR || c === LF) break;
        }
        cell = text.slice(i, k);
        i = k;
      }
      cells.push(cell);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i++;
        if (i >= n) cells.push('');
        if (i >= n) break;
        continue;
      }
      i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      break;
    }
    if (unclosed) {
      out.push({ line: start, error: 'a quote opened on this line is never closed' });
      break;
    }
    line++;
    if (cells.length > 1 || (cells[0] ?? '').trim() !== '') out.push({ line: start, cells });
  }
  return out;
}
