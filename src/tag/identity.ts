/**
 * Who the visitor is, from the page's side: a first-party anonymous id and the ad touch ids
 * (`click_id`, `imp_id`) they landed with.
 */
import { readStored, writeStored } from './storage.js';

const ANONYMOUS_ID_KEY = '_ptid';
const ANONYMOUS_ID_DAYS = 365;
const TOUCH_DAYS = 7;
/** Landing-URL parameter (also accepted with a `pt_` prefix) → the storage key remembering it. */
const TOUCH_KEYS = [
  ['click_id', '_ptclk'],
  ['imp_id', '_ptimp'],
];

/** The ad touch ids sent in `user` on every event. */
export interface TouchIds {
  click_id?: string;
  imp_id?: string;
}

/** A random id: `crypto.randomUUID` in secure contexts, else 128 random bits in hex. */
export function newId(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    (b + 256).toString(16).slice(1),
  ).join('');
}

/** The visitor's anonymous id: reused when stored, else created; kept for a year from now. */
export function anonymousId(): string {
  const id = readStored(ANONYMOUS_ID_KEY) || newId();
  writeStored(ANONYMOUS_ID_KEY, id, ANONYMOUS_ID_DAYS);
  return id;
}

/** Touch ids from this URL's query (remembered for 7 days), else the ones remembered earlier. */
export function touchIds(): TouchIds {
  const query = new URLSearchParams(location.search);
  const ids: Record<string, string> = {};
  for (const [param, key] of TOUCH_KEYS) {
    const landed = query.get(param) || query.get(`pt_${param}`);
    if (landed) writeStored(key, landed, TOUCH_DAYS);
    const id = landed || readStored(key);
    if (id) ids[param] = id;
  }
  return ids;
}
