// Offline conversions from a CSV file (a store's sales, a CRM's closed deals): each row becomes
// one event of the contract (DESIGN §5), validated like one from the events API and ingested
// through the same path. The file is read by csv-parse (quotes, embedded newlines, a BOM),
// row by row, so memory and time stay linear in its size.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CsvError, parse } from 'csv-parse';
import type { ActionSource, Consent, TrackedEvent } from '../domain/event.js';
import { type ValidationContext, validateEvent } from '../domain/validation.js';
import type { Store } from '../store/store.js';
import type { EventOutcome } from './ingest-pipeline.js';

/**
 * Rows validated and ingested together: one transaction, one progress step, then a turn of
 * the event loop. On SQLite a chunk runs without one: 500 rows held a server 35-50 ms.
 */
export const IMPORT_CHUNK_ROWS = 200;
/** A row this long is no conversion; csv-parse stops the file there instead of buffering on. */
export const MAX_IMPORT_RECORD_BYTES = 64 * 1024;

/** Where a column goes in the event, by its header (lower-cased, spaces as `_`). */
const COLUMNS: Readonly<Record<string, string>> = {
  event_id: 'event_id',
  order_id: 'order_id',
  transaction_id: 'order_id',
  event_name: 'event_name',
  event_time: 'event_time',
  time: 'event_time',
  timestamp: 'event_time',
  conversion_time: 'event_time',
  value: 'properties.value',
  currency: 'properties.currency',
  email: 'user.email',
  phone: 'user.phone',
  user_id: 'user.user_id',
  external_id: 'user.user_id',
  first_name: 'user.first_name',
  last_name: 'user.last_name',
  gender: 'user.gender',
  date_of_birth: 'user.date_of_birth',
  city: 'user.city',
  state: 'user.state',
  zip: 'user.zip',
  postal_code: 'user.zip',
  country: 'user.country',
  gclid: 'user.gclid',
  gbraid: 'user.gbraid',
  wbraid: 'user.wbraid',
  fbc: 'user.fbc',
  fbclid: 'fbclid',
  ttclid: 'user.ttclid',
  sc_click_id: 'user.sc_click_id',
  epik: 'user.epik',
  li_fat_id: 'user.li_fat_id',
  rdt_cid: 'user.rdt_cid',
  click_id: 'user.click_id',
  action_source: 'action_source',
};

/** What an import needs besides the file. */
export interface ImportOptions {
  envId: string;
  /** The event name of rows without an `event_name` column (default Purchase). */
  eventName: string;
  /** The action source of rows without one (default physical_store: a sale off the web). */
  actionSource: ActionSource;
  /** Validation as the events API does it (clock, event age by destination, ids). */
  validation: Omit<ValidationContext, 'source' | 'envId'>;
  /** The consent an event is stored with, from what it stated (the environment's default). */
  consent: (stated: Consent) => Consent;
  /** Ingests one chunk of valid events; the same call the events API makes. */
  record: (events: TrackedEvent[]) => Promise<EventOutcome[]>;
  /** Called after each chunk with the rows read so far. */
  progress?: (rowsDone: number) => void;
  /**
   * The keys of rows imported before, kept as long as events (the store's import ledger):
   * a row found there is already stored and is not ingested again, however long ago it came.
   * Without it, only the 48 h dedup window stops a second copy.
   */
  ledger?: ImportLedger;
}

/** What an import remembers of the rows it stored (see Store.importedKeys). */
export interface ImportLedger {
  /** For each event, whether an import stored its `(event_name, event_id)` before. */
  seen(events: readonly TrackedEvent[]): Promise<boolean[]>;
  /** Notes the events of a chunk once they are stored. */
  remember(events: readonly TrackedEvent[]): Promise<void>;
}

/** The store's import ledger for one environment; keys are noted at `nowMs()`. */
export function storeImportLedger(
  store: Pick<Store, 'importedKeys' | 'rememberImported'>,
  envId: string,
  nowMs: () => number,
): ImportLedger {
  const keys = (events: readonly TrackedEvent[]) =>
    events.map((e) => ({ event_name: e.event_name, event_id: e.event_id }));
  return {
    seen: (events) => store.importedKeys(envId, keys(events)),
    remember: (events) => store.rememberImported(envId, keys(events), nowMs()),
  };
}

/** One problem of one row: its line in the file (the header is line 1) and the field. */
export interface ImportRowError {
  line: number;
  field: string;
  message: string;
}

/** What became of a file: rows read, events stored, copies already stored, rows refused. */
export interface ImportReport {
  rows: number;
  accepted: number;
  /** Rows already there: stored by an earlier import (the ledger) or a copy within 48 h. */
  duplicates: number;
  errors: ImportRowError[];
}

const headerKey = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

function setPath(target: Record<string, unknown>, path: string, value: string): void {
  const dot = path.indexOf('.');
  if (dot < 0) {
    target[path] = value;
    return;
  }
  const head = path.slice(0, dot);
  const inner = (target[head] ?? {}) as Record<string, unknown>;
  inner[path.slice(dot + 1)] = value;
  target[head] = inner;
}

/**
 * One row as the contract's event. The order id is the event id when none is given, so a
 * file imported twice dedups; an `fbclid` becomes Meta's `fbc` (`fb.1.<ms>.<fbclid>`, the
 * click's time unknown, so the conversion's).
 */
export function rowToEvent(row: Record<string, string>, o: ImportOptions): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    event_name: o.eventName,
    env_id: o.envId,
    action_source: o.actionSource,
  };
  for (const [header, cell] of Object.entries(row)) {
    const path = COLUMNS[header];
    if (path && cell !== '') setPath(raw, path, cell);
  }
  const order = raw.order_id;
  if (typeof order === 'string') {
    setPath(raw, 'properties.order_id', order);
    raw.event_id ??= order;
    delete raw.order_id;
  }
  const fbclid = raw.fbclid;
  delete raw.fbclid;
  const user = (raw.user ?? {}) as Record<string, unknown>;
  if (typeof fbclid === 'string' && user.fbc === undefined) {
    const t = Number(raw.event_time);
    const ms = Number.isFinite(t) ? t * 1000 : Date.parse(String(raw.event_time));
    if (Number.isFinite(ms)) setPath(raw, 'user.fbc', `fb.1.${ms}.${fbclid}`);
  }
  return raw;
}

function missingIdError(line: number): ImportRowError {
  return { line, field: 'order_id', message: 'is required (or event_id): it deduplicates' };
}

/**
 * A file given whole is parsed in pieces of this many bytes, so rows are handled as they are
 * read. csv-parse parses a piece in one go, at about 7 µs a short row: 1 MiB (20,000 such
 * rows) held a server's event loop 140 ms, 64 KiB 30-45 ms; 16 KiB is about 330 rows.
 */
const PIECE_CHARS = 1 << 14;

function* piecesOf(text: string | Buffer): Generator<Buffer> {
  // Bytes, not characters: csv-parse joins a character cut between two pieces.
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < bytes.length; i += PIECE_CHARS) yield bytes.subarray(i, i + PIECE_CHARS);
}

interface ParsedRow {
  record: Record<string, string>;
  /** The line the row starts on (a quoted cell may span lines). */
  line: number;
}

/**
 * Reads a CSV of offline conversions and ingests its valid rows in chunks; every bad row is
 * reported with its line and field and the rest still go in. Rows need an order id (or
 * event id) and a time; re-importing a file adds nothing (same event ids: the ledger, when
 * given, finds them however long after; else the 48 h dedup window).
 * A malformed file (an unclosed quote, a giant row) stops where it breaks, keeping the rows
 * before it.
 */
export async function importConversions(
  input: AsyncIterable<string | Buffer> | Iterable<string | Buffer> | string | Buffer,
  o: ImportOptions,
): Promise<ImportReport> {
  // Rows are taken from on_record as the parser meets them: a parse error then loses none of
  // the rows before it, as a stream torn down by the error would.
  const parsed: ParsedRow[] = [];
  let lastLine = 1;
  let lastEmpty = 0;
  let failure: CsvError | null = null;
  const parser = parse({
    bom: true,
    columns: (header: string[]) => header.map(headerKey),
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    max_record_size: MAX_IMPORT_RECORD_BYTES,
    on_record: (record: Record<string, string>, ctx) => {
      parsed.push({ record, line: lastLine + 1 + (ctx.empty_lines - lastEmpty) });
      lastLine = ctx.lines;
      lastEmpty = ctx.empty_lines;
      return null;
    },
  });
  parser.on('error', (e) => {
    failure = e instanceof CsvError ? e : failure;
  });
  const report: ImportReport = { rows: 0, accepted: 0, duplicates: 0, errors: [] };
  let chunk: TrackedEvent[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const seen = o.ledger ? await o.ledger.seen(chunk) : [];
    const fresh = chunk.filter((_, i) => !seen[i]);
    report.duplicates += chunk.length - fresh.length;
    chunk = [];
    if (fresh.length > 0) {
      for (const outcome of await o.record(fresh)) {
        if (outcome.status === 'accepted') report.accepted++;
        else report.duplicates++;
      }
      // After the write: rows a refused chunk did not store are not noted, so they go in
      // when the file is sent again.
      await o.ledger?.remember(fresh);
    }
    o.progress?.(report.rows);
    // On SQLite a chunk's reads and writes never wait: without a turn here, a piece's parse
    // and its chunks held a server's event loop 50-60 ms, no pixel or event answered.
    await nextTurn();
  };
  const handle = async () => {
    for (const { record, line } of parsed.splice(0)) {
      report.rows++;
      const error = addRow(record, line, o, chunk);
      if (error) report.errors.push(...error);
      if (chunk.length >= IMPORT_CHUNK_ROWS) await flush();
    }
  };
  const pieces = typeof input === 'string' || Buffer.isBuffer(input) ? piecesOf(input) : input;
  for await (const piece of pieces) {
    // csv-parse parses a write synchronously: its rows are in `parsed` when it returns.
    parser.write(piece);
    await nextTurn();
    await handle();
    if (failure) break;
  }
  if (!failure) await new Promise<void>((resolve) => parser.end(() => resolve()));
  await handle();
  await flush();
  const broken = failure as CsvError | null;
  if (broken) report.errors.push({ line: lastLine + 1, field: '', message: broken.message });
  o.progress?.(report.rows);
  return report;
}

/** Validates one row into `chunk`, or says why it cannot go. */
function addRow(
  record: Record<string, string>,
  line: number,
  o: ImportOptions,
  chunk: TrackedEvent[],
): ImportRowError[] | null {
  const raw = rowToEvent(record, o);
  if (raw.event_id === undefined) return [missingIdError(line)];
  if (raw.event_time === undefined) return [{ line, field: 'event_time', message: 'is required' }];
  const r = validateEvent(raw, { ...o.validation, source: 'server', envId: o.envId });
  if (!r.ok) return r.errors.map((e) => ({ line, ...e }));
  r.event.consent = o.consent(r.event.consent);
  r.event.verified = 'write_key';
  chunk.push(r.event);
  return null;
}

/** The errors as a CSV file to download: line, field, message. */
export function errorReportCsv(errors: readonly ImportRowError[]): string {
  const cell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = errors.map((e) => [String(e.line), e.field, e.message].map(cell).join(','));
  return `line,field,message\n${lines.map((l) => `${l}\n`).join('')}`;
}
