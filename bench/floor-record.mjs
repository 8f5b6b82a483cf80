// What the floors of durable recording write for one Purchase, in pixeltrail's schema and with
// its SQL text (imported from dist/): the dedup key claim (CLAIM_DEDUP_UPSERT; a lost claim
// is a duplicate and stores nothing else), the person's touch lookup by IP (TOUCHES_BY_IP,
// as far back as the default probabilistic windows reach), the event row, the conversion row
// for one destination (unattributed, as pixeltrail records the bench's Purchase) and its
// conversion path. Shared by floor-post-server.mjs (the floor under single events) and
// ingest-statements.mjs (the same statements in process, to compare schemas).
import Database from 'better-sqlite3';
import {
  CONVERSION_COLUMNS,
  CONVERSION_CONFLICT,
  ipLookupParams,
  PATH_COLUMNS,
  PATH_CONFLICT,
} from '../dist/store/kysely/ingest-columns.js';
import {
  CLAIM_DEDUP_UPSERT,
  INSERT_EVENT,
  TOUCHES_BY_IP,
} from '../dist/store/kysely/ingest-sql.js';
import { insertText } from '../dist/store/kysely/ingest-statements.js';
import { openSqliteStore, SQLITE_FILE } from '../dist/store/sqlite/open-sqlite.js';

// As pixeltrail records the bench's Purchase: no touch, so unattributed, with this reason.
const NO_TOUCH = 'no touch of this person for this destination';
const DEDUP_WINDOW_S = 48 * 3600;
export const LOOKBACK_S = 7 * 24 * 3600;
/** How far back an address's touches are read: the default probabilistic windows (1 d). */
const IP_LOOKBACK_S = 24 * 3600;

/** A fresh store in `dir` migrated by dist/'s migrations, opened with pixeltrail's pragmas. */
export async function floorDatabase(dir) {
  const store = openSqliteStore(dir);
  await store.migrate();
  await store.close();
  const db = new Database(`${dir}/${SQLITE_FILE}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('secure_delete = ON');
  return db;
}

/**
 * The statements on `db`, and `record(e, nowMs)` storing one event of `env_id` for `dest_id`
 * (`e`: name, id, ip, value, currency, data), false when its dedup key was already claimed.
 */
export function floorRecorder(db, env_id, dest_id) {
  const claim = db.prepare(CLAIM_DEDUP_UPSERT);
  const touches = db.prepare(TOUCHES_BY_IP);
  const insertEvent = db.prepare(INSERT_EVENT);
  const putConversion = db.prepare(
    `${insertText('conversions', CONVERSION_COLUMNS)} ${CONVERSION_CONFLICT}`,
  );
  const putPath = db.prepare(`${insertText('conversion_paths', PATH_COLUMNS)} ${PATH_CONFLICT}`);
  // pixeltrail's keys are a base-36 time prefix and 22 random characters; a counter of the
  // same width keeps them unique, as long and as ordered, without spending CPU on randomness.
  const keyPrefix = Date.now().toString(36);
  let keys = 0;
  return (e, nowMs) => {
    const nowS = Math.floor(nowMs / 1000);
    const suffix = `${keyPrefix}.${(++keys).toString(36).padStart(22, '0')}`;
    const pk = `ev_${suffix}`;
    const { name, id, value, currency } = e;
    if (claim.run(env_id, name, id, pk, nowS, pk, nowS, nowS - DEDUP_WINDOW_S).changes === 0)
      return false;
    touches.all(ipLookupParams(env_id, nowS - LOOKBACK_S, nowS - IP_LOOKBACK_S, e.ip));
    // EVENT_COLUMNS' order: no browser or user id, no duplicate yet, no traffic, not a test.
    insertEvent.run(
      pk,
      env_id,
      name,
      id,
      nowS,
      nowMs,
      'server',
      null,
      null,
      value,
      currency,
      e.data,
      0,
      null,
      0,
    );
    const cv = `cv_${suffix}`;
    // CONVERSION_COLUMNS' order: unattributed, no campaign, not a test, the dedup row, no fraud.
    putConversion.run(
      cv,
      dest_id,
      env_id,
      pk,
      name,
      id,
      nowS,
      value,
      currency,
      0,
      null,
      NO_TOUCH,
      nowMs,
      null,
      null,
      null,
      0,
      null,
      1,
      null,
      null,
    );
    putPath.run(env_id, cv, pk, name, nowS, value, currency, LOOKBACK_S, '[]', nowMs);
    return true;
  };
}

// What pixeltrail's stored event JSON carries beside the event itself (no consent signal).
const STORED_EXTRAS = {
  consent: { ads: null, analytics: null, signals: [] },
  warnings: [],
  verified: 'write_key',
};

/**
 * floorRecorder for an events API body's event (`event_name`, `event_id`, `user.ip`,
 * `properties.value` and `.currency`), its row's data the event as pixeltrail keeps it:
 * `record(e, nowMs)`, false for a duplicate. Shared by the single-event floors.
 */
export function serverEventRecorder(db, env_id, dest_id) {
  const store = floorRecorder(db, env_id, dest_id);
  return (e, nowMs) => {
    const data = JSON.stringify({
      env_id,
      ...e,
      event_time: Math.floor(nowMs / 1000),
      source: 'server',
      ...STORED_EXTRAS,
    });
    const props = e.properties;
    return store(
      {
        name: e.event_name,
        id: e.event_id,
        ip: e.user?.ip ?? null,
        value: props?.value ?? null,
        currency: props?.currency ?? null,
        data,
      },
      nowMs,
    );
  };
}
