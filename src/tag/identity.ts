/**
 * Who the visitor is, from the page's side: a first-party anonymous id, the ad touch ids
 * (`click_id`, `imp_id`) they landed with, and ad platforms' own click and browser ids.
 */
import { clearStored, readStored, writeStored } from './storage.js';

const ANONYMOUS_ID_KEY = '_ptid';
const ANONYMOUS_ID_DAYS = 365;
/**
 * Ad touch ids and platform ids (server: PLATFORM_ID_KEYS) are remembered for 90 days after
 * the landing (Google's conversion linker keeps its click ids as long): the server's windows
 * decide what still counts. One constant: each byte of t.js counts against its budget.
 */
const TOUCH_DAYS = 90;
/** Landing-URL parameter (also accepted with a `pt_` prefix) → the storage key remembering it. */
const TOUCH_KEYS = [
  ['click_id', '_ptclk'],
  ['imp_id', '_ptimp'],
];

/**
 * `user` key, landing-URL parameter ('' for none; the key itself when left out), cookie the
 * platform's own pixel may have set on this site. Remembered under `_pt_<key>`; a URL value
 * beats the pixel's cookie.
 */
const PLATFORM_IDS = [
  ['fbc', 'fbclid', '_fbc'],
  ['fbp', '', '_fbp'],
  ['gclid'],
  ['gbraid'],
  ['wbraid'],
  ['ttclid'],
  ['ttp', '', '_ttp'],
  ['sc_click_id', 'ScCid'],
  ['epik', 'epik', '_epik'],
  ['li_fat_id', 'li_fat_id', 'li_fat_id'],
  ['rdt_cid', 'rdt_cid', '_rdt_cid'],
  ['msclkid'],
  ['twclid'],
  ['tdid'],
];

/** The ad touch and platform ids sent in `user` on every event. */
export type TouchIds = Record<string, string>;

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

/** Every key the tag may have stored, for when consent is withdrawn. */
export function forgetStored(): void {
  for (const key of [
    ANONYMOUS_ID_KEY,
    ...TOUCH_KEYS.map((k) => k[1]),
    ...PLATFORM_IDS.map((p) => `_pt_${p[0]}`),
  ])
    clearStored(key);
}

/**
 * Touch and platform ids from this URL's query (remembered for 90 days), else the ones
 * remembered earlier, else (platform ids) the platform pixel's own cookie. Without consent
 * (`store` false) only this URL's ids are used, and nothing is read or written. `clickParam`
 * is where `/c` put the click id (the environment's `click_id_param`); it wins over a
 * `click_id` the landing URL carried anyway.
 */
export function touchIds(store: boolean, clickParam = 'pt_click_id'): TouchIds {
  const query = new URLSearchParams(location.search);
  const ids: TouchIds = {};
  for (const [param, key] of TOUCH_KEYS) {
    const landed =
      (param === 'click_id' && query.get(clickParam)) ||
      query.get(param) ||
      query.get(`pt_${param}`);
    if (landed && store) writeStored(key, landed, TOUCH_DAYS);
    const id = landed || (store && readStored(key));
    if (id) ids[param] = id;
  }
  for (const [key, param = key, cookie] of PLATFORM_IDS) {
    let landed = param && query.get(param);
    // Meta's fbc format: fb.<subdomain index>.<click time in ms>.<fbclid>.
    if (landed && key === 'fbc') landed = `fb.1.${Date.now()}.${landed}`;
    if (landed && store) writeStored(`_pt_${key}`, landed, TOUCH_DAYS);
    const id = landed || (store && (readStored(`_pt_${key}`) || (cookie && readStored(cookie))));
    if (id) ids[key] = id;
  }
  return ids;
}
