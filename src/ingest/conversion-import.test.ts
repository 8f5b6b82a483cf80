import { describe, expect, it } from 'vitest';
import { countTurns } from '../../test/helpers/loop-turns.js';
import type { TrackedEvent } from '../domain/event.js';
import { sha256Hex } from '../domain/identity.js';
import {
  errorReportCsv,
  IMPORT_CHUNK_ROWS,
  type ImportOptions,
  importConversions,
} from './conversion-import.js';
import type { EventOutcome } from './ingest-pipeline.js';

const NOW_MS = Date.UTC(2026, 0, 31, 12);
const DAY_S = 86_400;

/** A store that keeps the first copy of each event id, as dedup does. */
function fakeStore() {
  const stored = new Map<string, TrackedEvent>();
  const chunks: number[] = [];
  const record = async (events: TrackedEvent[]): Promise<EventOutcome[]> => {
    chunks.push(events.length);
    return events.map((e) => {
      if (stored.has(e.event_id)) return { status: 'duplicate', of: e.event_id };
      stored.set(e.event_id, e);
      return { status: 'accepted', pk: e.event_id, conversions: 1, deliveries: 0 };
    });
  };
  return { stored, chunks, record };
}

function options(record: ImportOptions['record'], progress?: (n: number) => void): ImportOptions {
  return {
    envId: 'env_t',
    eventName: 'Purchase',
    actionSource: 'physical_store',
    validation: {
      nowMs: NOW_MS,
      newId: () => 'gen',
      maxEventAgeS: (_n, source) => (source === 'physical_store' ? 62 : 7) * DAY_S,
    },
    consent: (c) => c,
    record,
    progress,
  };
}

const FILE = [
  'Order ID,Time,Value,Currency,Email,Phone,GCLID,User ID',
  'POS-1,2026-01-20T10:00:00Z,49.90,eur, Ann@Example.com ,+1 650 555 1212,Cj0KCQ-abc,u42',
  'POS-2,1768900000,12,USD,,,,',
  ',2026-01-20T10:00:00Z,5,EUR,a@b.co,,,',
  'POS-4,2025-10-01T00:00:00Z,5,EUR,a@b.co,,,',
  'POS-5,2026-01-20T10:00:00Z,lots,EURO,not-an-email,,,',
].join('\n');

describe('CSV import of offline conversions', () => {
  it('IM01 each valid row becomes a contract event: order id as event id, PII hashed', async () => {
    const s = fakeStore();
    const report = await importConversions(FILE, options(s.record));
    expect(report.rows).toBe(5);
    expect(report.accepted).toBe(2);
    const e = s.stored.get('POS-1');
    expect(e).toMatchObject({
      event_name: 'Purchase',
      event_id: 'POS-1',
      event_time: Date.parse('2026-01-20T10:00:00Z') / 1000,
      action_source: 'physical_store',
      source: 'server',
      verified: 'write_key',
      user: {
        email_sha256: sha256Hex('ann@example.com'),
        phone_sha256: sha256Hex('16505551212'),
        gclid: 'Cj0KCQ-abc',
        user_id: 'u42',
      },
      properties: { value: 49.9, currency: 'EUR', order_id: 'POS-1' },
    });
    expect(JSON.stringify(e)).not.toMatch(/Ann@Example|650 555/);
  });

  it('IM02 every bad row is named by its line and field; the good ones still go in', async () => {
    const report = await importConversions(FILE, options(fakeStore().record));
    expect(report.errors).toEqual([
      { line: 4, field: 'order_id', message: 'is required (or event_id): it deduplicates' },
      { line: 5, field: 'event_time', message: 'is more than 62 days old' },
      { line: 6, field: 'user.email', message: 'is not a valid email' },
      { line: 6, field: 'properties.value', message: 'must be a number' },
      { line: 6, field: 'properties.currency', message: 'must be an ISO 4217 currency code' },
    ]);
  });

  it('IM03 importing the same file again adds nothing: every row is a duplicate', async () => {
    const s = fakeStore();
    await importConversions(FILE, options(s.record));
    const again = await importConversions(FILE, options(s.record));
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(s.stored.size).toBe(2);
  });

  it('IM03b with the ledger, rows an earlier import stored are not ingested again, even once dedup forgot them', async () => {
    // A store whose 48 h dedup has forgotten everything: only the ledger stops a second copy.
    const forgetful = fakeStore();
    const record: ImportOptions['record'] = async (events) => {
      const outcomes = await forgetful.record(events);
      forgetful.stored.clear();
      return outcomes;
    };
    const held = new Set<string>();
    const noted: string[] = [];
    const ledger = {
      seen: async (events: readonly TrackedEvent[]) => events.map((e) => held.has(e.event_id)),
      remember: async (events: readonly TrackedEvent[]) => {
        for (const e of events) {
          held.add(e.event_id);
          noted.push(e.event_id);
        }
      },
    };
    const first = await importConversions(FILE, { ...options(record), ledger });
    expect(first).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(noted.sort()).toEqual(['POS-1', 'POS-2']);
    const again = await importConversions(FILE, { ...options(record), ledger });
    expect(again).toMatchObject({ rows: 5, accepted: 0, duplicates: 2 });
    expect(forgetful.chunks).toEqual([2]);
    // Without the ledger the same forgetful store takes every row again.
    const bare = await importConversions(FILE, options(record));
    expect(bare).toMatchObject({ accepted: 2, duplicates: 0 });
  });

  it('IM04 quoted cells with commas and line breaks, a BOM and CRLF lines are read as CSV', async () => {
    const s = fakeStore();
    const file = `\ufeffevent_id,event_time,value,currency,city\r\n"A,1",1768900000,"1,5",EUR,"New\r\nYork"\r\n`;
    const report = await importConversions(file, options(s.record));
    expect(report.errors).toEqual([
      { line: 2, field: 'properties.value', message: 'must be a number' },
    ]);
    const ok = await importConversions(
      'event_id,event_time,city\n"A,1",1768900000,"New\nYork"\n',
      options(s.record),
    );
    expect(ok.accepted).toBe(1);
    expect(s.stored.get('A,1')?.user.city_sha256).toBe(sha256Hex('newyork'));
  });

  it('IM05 rows go in chunks, with progress after each; a streamed file reads the same', async () => {
    const s = fakeStore();
    const n = IMPORT_CHUNK_ROWS * 2 + 7;
    const lines = ['order_id,time,value,currency'];
    for (let i = 0; i < n; i++) lines.push(`o${i},1768900000,1,EUR`);
    const seen: number[] = [];
    async function* pieces() {
      const text = lines.join('\n');
      for (let i = 0; i < text.length; i += 4096) yield text.slice(i, i + 4096);
    }
    const report = await importConversions(
      pieces(),
      options(s.record, (k) => seen.push(k)),
    );
    expect(report).toMatchObject({ rows: n, accepted: n, errors: [] });
    expect(s.chunks).toEqual([IMPORT_CHUNK_ROWS, IMPORT_CHUNK_ROWS, 7]);
    expect(seen.at(-1)).toBe(n);
  });

  it('IM12 a file given whole lets the event loop turn after each chunk it stores (issue 22)', async () => {
    // The store answers at once, as SQLite's does: only the import itself can make turns.
    const s = fakeStore();
    const n = IMPORT_CHUNK_ROWS * 5;
    const lines = ['order_id,time,value,currency'];
    for (let i = 0; i < n; i++) lines.push(`t${i},1768900000,1,EUR`);
    const counter = countTurns();
    const report = await importConversions(lines.join('\n'), options(s.record));
    counter.stop();
    expect(report).toMatchObject({ rows: n, accepted: n });
    expect(s.chunks).toHaveLength(5);
    expect(counter.turns()).toBeGreaterThanOrEqual(5);
  });

  it('IM06 an fbclid column becomes fbc; a malformed file stops there, keeping what came before', async () => {
    const s = fakeStore();
    const report = await importConversions(
      'order_id,time,fbclid\nF1,1768900000,IwAR2x\nF2,1768900000,"unclosed\n',
      options(s.record),
    );
    expect(s.stored.get('F1')?.user.fbc).toBe('fb.1.1768900000000.IwAR2x');
    expect(report.accepted).toBe(1);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].message).toMatch(/quote/i);
  });

  it('IM07 the error report is a CSV with each cell escaped', () => {
    expect(errorReportCsv([{ line: 3, field: 'user.email', message: 'bad, "very"' }])).toBe(
      'line,field,message\n3,user.email,"bad, ""very"""\n',
    );
  });
});
