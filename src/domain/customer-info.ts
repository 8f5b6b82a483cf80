// Normalisation of the customer-information fields ad platforms match on, exactly as Meta's
// page says (Snap, Pinterest and TikTok copied it):
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
// fn/ln: lower case, no punctuation, UTF-8 kept; ge: `f` or `m`; db: YYYYMMDD; ct: lower case,
// no punctuation, special characters or spaces; st: the 2-letter ANSI code in lower case (else
// lower case without punctuation or spaces); zp: lower case without spaces or dash, US zips to
// 5 digits; country: ISO 3166-1 alpha-2 in lower case. Each is then SHA-256 hashed on arrival.
import { sha256Hex } from './identity.js';

/** Earliest year of birth Meta accepts ("from 1900 to current year"). */
const MIN_BIRTH_YEAR = 1900;

/** The user fields stored only as their hash, by the name the event contract gives them. */
export const CUSTOMER_INFO_FIELDS = [
  'first_name',
  'last_name',
  'gender',
  'date_of_birth',
  'city',
  'state',
  'zip',
  'country',
] as const;
export type CustomerInfoField = (typeof CUSTOMER_INFO_FIELDS)[number];

/** Everything but letters (any script) and their accents goes: punctuation, digits, spaces. */
const NOT_LETTER = /[^\p{L}\p{M}]/gu;

/** NFC first, so "é" typed as e + U+0301 hashes like the precomposed é of Meta's example. */
function lettersOnly(raw: string): string {
  return raw.normalize('NFC').toLowerCase().replace(NOT_LETTER, '');
}

/** A first or last name: "Mary-Ann " is `maryann`; `Valéry` keeps its accent (Meta's vector). */
export function normalizeName(raw: string): string | null {
  const name = lettersOnly(raw);
  return name === '' ? null : name;
}

/** `f` or `m`, the initials Meta and Snap accept; other answers are not sent anywhere. */
export function normalizeGender(raw: string): string | null {
  const g = raw.trim().toLowerCase();
  if (g === 'f' || g === 'female') return 'f';
  if (g === 'm' || g === 'male') return 'm';
  return null;
}

function validDate(y: number, m: number, d: number, nowYear: number): boolean {
  if (y < MIN_BIRTH_YEAR || y > nowYear || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * YYYYMMDD from `1997-02-16`, `1997/02/16`, `19970216`, the US `2/16/1997` of Meta's example
 * or the European `16.2.1997`; null for anything else or an impossible date.
 */
export function normalizeDateOfBirth(raw: string, nowYear: number): string | null {
  const s = raw.trim();
  let ymd: [number, number, number] | null = null;
  const yearFirst = /^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})(?:T.*)?$/.exec(s);
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  const eu = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(s);
  if (yearFirst && (s.length === 8 || /\D/.test(s.slice(4, 5))))
    ymd = [Number(yearFirst[1]), Number(yearFirst[2]), Number(yearFirst[3])];
  else if (us) ymd = [Number(us[3]), Number(us[1]), Number(us[2])];
  else if (eu) ymd = [Number(eu[3]), Number(eu[2]), Number(eu[1])];
  if (!ymd || !validDate(ymd[0], ymd[1], ymd[2], nowYear)) return null;
  const [y, m, d] = ymd;
  return `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`;
}

/** A city: `New York` is `newyork`, `Saint-Étienne` is `saintétienne`. */
export function normalizeCity(raw: string): string | null {
  const city = lettersOnly(raw);
  return city === '' ? null : city;
}

/** US states, DC and territories by name, for Meta's "2-character ANSI abbreviation code". */
const US_STATES: Readonly<Record<string, string>> = {
  alabama: 'al',
  alaska: 'ak',
  arizona: 'az',
  arkansas: 'ar',
  california: 'ca',
  colorado: 'co',
  connecticut: 'ct',
  delaware: 'de',
  districtofcolumbia: 'dc',
  florida: 'fl',
  georgia: 'ga',
  hawaii: 'hi',
  idaho: 'id',
  illinois: 'il',
  indiana: 'in',
  iowa: 'ia',
  kansas: 'ks',
  kentucky: 'ky',
  louisiana: 'la',
  maine: 'me',
  maryland: 'md',
  massachusetts: 'ma',
  michigan: 'mi',
  minnesota: 'mn',
  mississippi: 'ms',
  missouri: 'mo',
  montana: 'mt',
  nebraska: 'ne',
  nevada: 'nv',
  newhampshire: 'nh',
  newjersey: 'nj',
  newmexico: 'nm',
  newyork: 'ny',
  northcarolina: 'nc',
  northdakota: 'nd',
  ohio: 'oh',
  oklahoma: 'ok',
  oregon: 'or',
  pennsylvania: 'pa',
  rhodeisland: 'ri',
  southcarolina: 'sc',
  southdakota: 'sd',
  tennessee: 'tn',
  texas: 'tx',
  utah: 'ut',
  vermont: 'vt',
  virginia: 'va',
  washington: 'wa',
  westvirginia: 'wv',
  wisconsin: 'wi',
  wyoming: 'wy',
  puertorico: 'pr',
  guam: 'gu',
  virginislands: 'vi',
  usvirginislands: 'vi',
  americansamoa: 'as',
  northernmarianaislands: 'mp',
};

/** A state: a US state's name becomes its code (`California` → `ca`); others lose spaces. */
export function normalizeState(raw: string): string | null {
  const state = raw
    .normalize('NFC')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}]/gu, '');
  if (state === '') return null;
  return US_STATES[state] ?? state;
}

/** A postal code: `94035-1234` is `94035` (US ZIP+4), `M1 1AE` is `m11ae`. */
export function normalizeZip(raw: string): string | null {
  const zip = raw.toLowerCase().replace(/[\s-]/g, '');
  if (!/^[\p{L}\p{N}]{2,10}$/u.test(zip)) return null;
  // Nine digits is a ZIP+4 (no other country's codes have nine); Meta takes its first five.
  return /^\d{9}$/.test(zip) ? zip.slice(0, 5) : zip;
}

/** Names that are not the region's English display name but are common in shop data. */
const COUNTRY_ALIASES: Readonly<Record<string, string>> = {
  usa: 'us',
  unitedstatesofamerica: 'us',
  uk: 'gb',
  greatbritain: 'gb',
  england: 'gb',
  scotland: 'gb',
  wales: 'gb',
  northernireland: 'gb',
  holland: 'nl',
  southkorea: 'kr',
  russia: 'ru',
  czechia: 'cz',
  turkey: 'tr',
  vietnam: 'vn',
  ivorycoast: 'ci',
};

/**
 * Codes Intl names that ISO 3166-1 does not assign: exceptional reservations (UK, EU, AC…),
 * user-assigned ones (XK, QO…) and withdrawn countries (SU, YU, ZR…).
 */
const NOT_ISO_ALPHA2 = new Set(
  'AC CP CQ DG EA IC TA EU EZ QO UN UK XA XB XK AN BU CS DD DY FX HV NH RH SU TP VD YD YU ZR'.split(
    ' ',
  ),
);

let countriesByName: Map<string, string> | null = null;
let countryCodes: Set<string> | null = null;

/** Every ISO 3166-1 alpha-2 code Intl knows, by its squeezed English name (built once). */
function countryNames(): Map<string, string> {
  if (countriesByName) return countriesByName;
  const names = new Intl.DisplayNames(['en'], { type: 'region' });
  const map = new Map<string, string>();
  const A = 'A'.charCodeAt(0);
  for (let i = 0; i < 26; i++)
    for (let j = 0; j < 26; j++) {
      const code = String.fromCharCode(A + i, A + j);
      const name = names.of(code);
      if (name && name !== code && name !== 'Unknown Region' && !NOT_ISO_ALPHA2.has(code))
        map.set(lettersOnly(name), code.toLowerCase());
    }
  countryCodes = new Set(map.values());
  for (const [alias, code] of Object.entries(COUNTRY_ALIASES)) map.set(alias, code);
  countriesByName = map;
  return map;
}

/** `us` from `US`, `us`, `United States` or `USA`; null for what names no country. */
export function normalizeCountry(raw: string): string | null {
  const squeezed = lettersOnly(raw);
  const byName = countryNames();
  if (squeezed.length === 2 && countryCodes?.has(squeezed)) return squeezed;
  return byName.get(squeezed) ?? null;
}

/** The normaliser of each field; `nowYear` bounds a date of birth. */
export function normalizeCustomerInfo(
  field: CustomerInfoField,
  raw: string,
  nowYear: number,
): string | null {
  switch (field) {
    case 'first_name':
    case 'last_name':
      return normalizeName(raw);
    case 'gender':
      return normalizeGender(raw);
    case 'date_of_birth':
      return normalizeDateOfBirth(raw, nowYear);
    case 'city':
      return normalizeCity(raw);
    case 'state':
      return normalizeState(raw);
    case 'zip':
      return normalizeZip(raw);
    case 'country':
      return normalizeCountry(raw);
  }
}

/** SHA-256 of the normalised value, or null when nothing usable is left. */
export function hashCustomerInfo(
  field: CustomerInfoField,
  raw: string,
  nowYear: number,
): string | null {
  const normalized = normalizeCustomerInfo(field, raw, nowYear);
  return normalized === null ? null : sha256Hex(normalized);
}

/**
 * The fields some platform's API takes in clear (Google Ads `addressInfo` country and postal
 * code, LinkedIn `userInfo`) or hashes after its own normalisation (Google's names keep
 * spaces and hyphens, Meta's do not). They never reach the events table: they ride only on the
 * outbox rows of destinations whose adapter asks for them, and go when the row is done.
 */
export const CLEAR_USER_FIELDS = [
  'first_name',
  'last_name',
  'city',
  'state',
  'zip',
  'country',
] as const;
export type ClearUserField = (typeof CLEAR_USER_FIELDS)[number];

/** The clear values an event brought, trimmed, each one that hashed to something usable. */
export type ClearUserInfo = Partial<Record<ClearUserField, string>>;

/** Only `fields` of `clear`, or null when none of them is there. */
export function pickClearUser(
  clear: ClearUserInfo | undefined,
  fields: readonly ClearUserField[],
): ClearUserInfo | null {
  if (!clear) return null;
  const out: ClearUserInfo = {};
  for (const f of fields) if (clear[f] !== undefined) out[f] = clear[f];
  return Object.keys(out).length > 0 ? out : null;
}

/** Reads a ride-along back from its outbox column; anything malformed counts as none. */
export function parseClearUser(text: string | null): ClearUserInfo | undefined {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const out: ClearUserInfo = {};
  for (const f of CLEAR_USER_FIELDS) {
    const v = (raw as Record<string, unknown>)[f];
    if (typeof v === 'string') out[f] = v;
  }
  return out;
}
