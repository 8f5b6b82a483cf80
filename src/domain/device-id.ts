/**
 * Mobile device identifiers as match keys (MMP-style attribution): the advertising ids
 * (Apple IDFA, Google advertising id GAID), Apple's vendor id (IDFV) and an app instance id.
 * An in-app ad's click or impression URL carries one (ad servers fill `{IDFA}`/`{GAID}`
 * macros), the app's events carry them too, and both meet as the anonymous id `kind:value`.
 */

/** The device id keys an event's `user` may carry, and a touch's query. */
export const DEVICE_ID_KEYS = ['idfa', 'idfv', 'gaid', 'app_instance_id'] as const;
export type DeviceIdKey = (typeof DEVICE_ID_KEYS)[number];

/** Limit Ad Tracking / ATT-denied devices report an all-zero advertising id. */
const ZERO_ID_RE = /^[0-]+$/;
const MAX_ID_CHARS = 128;

/**
 * The id as it is compared: trimmed and lower-cased (IDFA and GAID are UUIDs that SDKs print
 * in either case); null for the all-zero id of a device that opted out, or garbage.
 */
export function normalizeDeviceId(raw: string): string | null {
  const id = raw.trim().toLowerCase();
  // U+0000 too: PostgreSQL's text cannot hold it (a pixel's `idfa=%00` reaches here unchecked).
  if (id === '' || id.length > MAX_ID_CHARS || ZERO_ID_RE.test(id) || /[\s:\0]/.test(id))
    return null;
  return id;
}

/** True for the all-zero advertising id of a device that opted out of tracking. */
export function isZeroDeviceId(raw: string): boolean {
  return ZERO_ID_RE.test(raw.trim());
}

/** The anonymous ids under which a device's touches are kept and its events matched. */
export function deviceAnonymousIds(ids: Partial<Record<DeviceIdKey, string>>): string[] {
  const out: string[] = [];
  for (const key of DEVICE_ID_KEYS) {
    const v = ids[key];
    if (v) out.push(`${key}:${v}`);
  }
  return out;
}
