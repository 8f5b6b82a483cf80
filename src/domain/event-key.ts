/**
 * Stored events are keyed by a random id that also carries the time the event was received.
 * On PostgreSQL the events table is partitioned by that time (one partition a day), and a
 * lookup by key alone would have to probe every partition's index; with the time in the key
 * the store names the one partition to read.
 */

const PREFIX = 'ev_';
/** Base-36 width of a millisecond timestamp until the year 5188. */
const TIME_WIDTH = 9;
/** Never in a base64url id, so no older or foreign key is mistaken for a timed one. */
const SEP = '.';

/** The time part of the last key made: a batch's events share their receive time. */
let lastMs = Number.NaN;
let lastHead = '';

/** A new event key for an event received at `receivedMs`; `random` is an opaque unique id. */
export function eventKey(receivedMs: number, random: string): string {
  const ms = Math.trunc(receivedMs);
  if (ms !== lastMs) {
    lastHead = `${PREFIX}${ms.toString(36).padStart(TIME_WIDTH, '0')}${SEP}`;
    lastMs = ms;
  }
  return lastHead + random;
}

/** The receive time an event key carries, or null for keys made before keys carried it. */
export function receivedMsOfKey(key: string): number | null {
  if (!key.startsWith(PREFIX) || key[PREFIX.length + TIME_WIDTH] !== SEP) return null;
  const part = key.slice(PREFIX.length, PREFIX.length + TIME_WIDTH);
  if (!/^[0-9a-z]+$/.test(part)) return null;
  const ms = Number.parseInt(part, 36);
  return Number.isSafeInteger(ms) ? ms : null;
}

/**
 * The id of the conversion an event becomes: its key with `cv_` for `ev_`. Always made so
 * (since the first ingest), which lets the store find an event's conversions by their primary
 * key (env_id, conversion_id) and keep no index on `event_pk` (issue 22: one b-tree fewer
 * written per conversion row).
 */
export function conversionIdOf(eventKey: string): string {
  return `cv_${eventKey.slice(PREFIX.length)}`;
}
