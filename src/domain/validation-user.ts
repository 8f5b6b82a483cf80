import {
  CLEAR_USER_FIELDS,
  type ClearUserField,
  type ClearUserInfo,
  CUSTOMER_INFO_FIELDS,
  hashCustomerInfo,
} from './customer-info.js';
import { DEVICE_ID_KEYS, isZeroDeviceId, normalizeDeviceId } from './device-id.js';
import { PLATFORM_ID_KEYS, type UserKeys } from './event.js';
import { hashEmail, hashPhone, hashPhoneE164, isSha256Hex } from './identity.js';
import { canonicalIp } from './ip-address.js';
import { normalizeAttStatus, normalizeOs } from './mobile-platform.js';
import type { FieldError } from './validation-error.js';
import { isObj, type Obj, optString } from './validation-fields.js';

// The user object of an event: hashed keys (or clear values hashed here), device and platform
// ids, the IP, and the clear customer info that rides to the platforms that ask for it.

/**
 * Field names and error paths of the keys read below, made once: a name built per event is a
 * new string for each of the 45 reads of a user, looked up by its characters (issue 22).
 */
const HASHED_KEYS = {
  email: { sha: 'email_sha256', shaPath: 'user.email_sha256', path: 'user.email' },
  phone: { sha: 'phone_sha256', shaPath: 'user.phone_sha256', path: 'user.phone' },
} as const;

/** The user's plain string ids, each with its error path. */
const STRING_KEYS = (
  ['anonymous_id', 'user_id', 'user_agent', 'click_id', 'imp_id', ...PLATFORM_ID_KEYS] as const
).map((key) => [key, `user.${key}`] as const);

const DEVICE_KEYS = DEVICE_ID_KEYS.map((key) => [key, `user.${key}`] as const);

/** Each customer-information field with its hash's name and both error paths. */
const CUSTOMER_KEYS = CUSTOMER_INFO_FIELDS.map((field) => ({
  field,
  path: `user.${field}`,
  key: `${field}_sha256` as const,
  keyPath: `user.${field}_sha256`,
}));

// The groups of keys parseUser reads, as bits: a group none of whose keys the user object
// has is skipped whole. A user carries a few of the 45 keys read (the bench's Purchase: an IP
// and a user agent); each read of an absent key walked the object and its prototype: such a
// user took 770 ns to read, 440 with this (issue 22). One pass over the object's own keys
// says which groups to read; a group with a key present is read exactly as before.
const STRINGS = 1;
const DEVICES = 2;
const PLATFORM = 4;
const HASHED = 8;
const CUSTOMER = 16;
const GROUP_OF: ReadonlyMap<string, number> = new Map<string, number>([
  ...STRING_KEYS.map(([key]) => [key, STRINGS] as const),
  ...DEVICE_KEYS.map(([key]) => [key, DEVICES] as const),
  ['os', PLATFORM],
  ['att_status', PLATFORM],
  ...(['email', 'email_sha256', 'phone', 'phone_sha256'] as const).map((k) => [k, HASHED] as const),
  ...CUSTOMER_KEYS.flatMap((c) => [[c.field, CUSTOMER] as const, [c.key, CUSTOMER] as const]),
]);

/** The groups (bits above) that have a key in `raw`. */
function groupsOf(raw: Obj): number {
  let groups = 0;
  for (const key in raw) groups |= GROUP_OF.get(key) ?? 0;
  return groups;
}

export function hashedKey(
  user: Obj,
  clearKey: 'email' | 'phone',
  hash: (raw: string) => string | null,
  errors: FieldError[],
): string | undefined {
  const { sha: shaKey, shaPath, path } = HASHED_KEYS[clearKey];
  const sha = optString(user, shaKey, shaPath, errors);
  if (sha !== undefined) {
    const lower = sha.toLowerCase();
    if (!isSha256Hex(lower)) {
      errors.push({ field: shaPath, message: 'must be a hex SHA-256 digest' });
      return undefined;
    }
    return lower;
  }
  const clear = optString(user, clearKey, path, errors);
  if (clear === undefined) return undefined;
  const hashed = hash(clear);
  if (!hashed) errors.push({ field: `user.${clearKey}`, message: `is not a valid ${clearKey}` });
  return hashed ?? undefined;
}

/**
 * `user.ip` in its one spelling (ip-address.ts), so a server's `203.0.113.9` matches the
 * touch the pixel recorded from `::ffff:203.0.113.9`. Skipped when the request's own address
 * replaces it.
 */
export function parseIp(user: Obj, errors: FieldError[]): string | undefined {
  const v = optString(user, 'ip', 'user.ip', errors);
  if (v === undefined || v.trim() === '') return undefined;
  const ip = canonicalIp(v);
  if (!ip) errors.push({ field: 'user.ip', message: 'is not a valid IP address' });
  return ip ?? undefined;
}

export function parseUser(
  raw: unknown,
  clearOut: ClearUserInfo,
  errors: FieldError[],
  warnings: string[],
  ipSeen: boolean,
  nowYear: number,
): UserKeys {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) {
    errors.push({ field: 'user', message: 'must be an object' });
    return {};
  }
  const user: UserKeys = {};
  const groups = groupsOf(raw);
  if (groups & STRINGS)
    for (const [key, path] of STRING_KEYS) {
      const v = optString(raw, key, path, errors);
      if (v !== undefined) user[key] = v;
    }
  const ip = ipSeen ? undefined : parseIp(raw, errors);
  if (ip) user.ip = ip;
  if (groups & DEVICES)
    for (const [key, path] of DEVICE_KEYS) {
      const v = optString(raw, key, path, errors);
      // An all-zero advertising id means the user opted out of tracking: it is not an id. An
      // IDFA's zeros still say an Apple device sent the event (an iOS app event).
      const id = v === undefined ? null : normalizeDeviceId(v);
      if (id) user[key] = id;
      else if (key === 'idfa' && v !== undefined && isZeroDeviceId(v)) user.idfa_withheld = 'zeros';
    }
  if (groups & PLATFORM) parsePlatform(raw, user, errors, warnings);
  if (groups & HASHED) {
    const email = hashedKey(raw, 'email', hashEmail, errors);
    if (email) user.email_sha256 = email;
    const phone = hashedKey(raw, 'phone', hashPhone, errors);
    if (phone) user.phone_sha256 = phone;
    // Platforms disagree on the `+`; keep both hashes while the clear phone is at hand.
    const clearPhone =
      typeof raw.phone === 'string' && raw.phone_sha256 === undefined
        ? hashPhoneE164(raw.phone)
        : null;
    if (clearPhone) user.phone_e164_sha256 = clearPhone;
  }
  if (groups & CUSTOMER) parseCustomerInfo(raw, user, clearOut, errors, warnings, nowYear);
  return user;
}

/**
 * `user.os` (iOS app events match by deterministic keys only) and `user.att_status`: an IDFA
 * read without App Tracking Transparency authorization is not the user's consent to be
 * tracked, so it is dropped, with a warning (issue 25), and remembered as withheld: the event
 * came from an Apple device all the same.
 */
function parsePlatform(raw: Obj, user: UserKeys, errors: FieldError[], warnings: string[]): void {
  const os = optString(raw, 'os', 'user.os', errors);
  if (os !== undefined) {
    const name = normalizeOs(os);
    if (name) user.os = name;
    else
      errors.push({
        field: 'user.os',
        message: 'must be an operating system name such as ios or android',
      });
  }
  if (raw.att_status === undefined || raw.att_status === null || raw.att_status === '') return;
  const att = normalizeAttStatus(raw.att_status);
  if (!att) {
    errors.push({
      field: 'user.att_status',
      message: 'must be one of authorized, denied, restricted, not_determined (or 0-3)',
    });
    return;
  }
  user.att_status = att;
  if (att !== 'authorized' && user.idfa) {
    delete user.idfa;
    user.idfa_withheld = 'not_authorized';
    warnings.push(`user.idfa dropped: App Tracking Transparency status is ${att}`);
  }
}

const CLEAR_USER_SET: ReadonlySet<string> = new Set(CLEAR_USER_FIELDS);

export function isClearUserField(field: string): field is ClearUserField {
  return CLEAR_USER_SET.has(field);
}

/** What each customer-information field must look like, for its error message. */
const CUSTOMER_INFO_RULES: Readonly<Record<string, string>> = {
  first_name: 'must contain letters',
  last_name: 'must contain letters',
  date_of_birth: 'must be a date of birth (YYYY-MM-DD, YYYYMMDD or M/D/YYYY) from 1900 on',
  city: 'must contain letters',
  state: 'must be a state name or code',
  zip: 'must be a postal code (2 to 10 letters and digits)',
  country: 'must be an ISO 3166-1 alpha-2 code or an English country name',
};

/**
 * Name, gender, birth date and address: each hashed here, as the platforms normalise it
 * (customer-info.ts), or taken as the caller's own hash (`first_name_sha256`…). A gender
 * other than f/m is legitimate data the platforms cannot use: dropped with a warning.
 */
export function parseCustomerInfo(
  raw: Obj,
  user: UserKeys,
  clearOut: ClearUserInfo,
  errors: FieldError[],
  warnings: string[],
  nowYear: number,
): void {
  for (const { field, path, key, keyPath } of CUSTOMER_KEYS) {
    const given = optString(raw, key, keyPath, errors);
    if (given !== undefined) {
      const lower = given.toLowerCase();
      if (isSha256Hex(lower)) user[key] = lower;
      else errors.push({ field: keyPath, message: 'must be a hex SHA-256 digest' });
      continue;
    }
    const clear = optString(raw, field, path, errors);
    if (clear === undefined) continue;
    const hashed = hashCustomerInfo(field, clear, nowYear);
    if (hashed) {
      user[key] = hashed;
      if (isClearUserField(field)) clearOut[field] = clear.trim();
    } else if (field === 'gender') warnings.push('gender other than f or m: not sent to platforms');
    else errors.push({ field: path, message: CUSTOMER_INFO_RULES[field] ?? 'invalid' });
  }
}
