import { DEVICE_ID_KEYS, deviceAnonymousIds, normalizeDeviceId } from '../../domain/device-id.js';
import type { Query } from './query.js';

/**
 * An in-app ad's pixel or click URL names the device (`idfa=`, `gaid=`, `idfv=`,
 * `app_instance_id=`, filled by the ad server's macros): the touch is kept under that id, the
 * one the app's events will carry, rather than under a webview cookie that dies with the ad.
 */
export function deviceTouchId(q: Query): string | undefined {
  // Most hits are from browsers and name no device: nothing to build for them.
  if (!DEVICE_ID_KEYS.some((key) => q[key] !== undefined)) return undefined;
  const ids: Partial<Record<(typeof DEVICE_ID_KEYS)[number], string>> = {};
  for (const key of DEVICE_ID_KEYS) {
    const raw = q[key];
    const id = typeof raw === 'string' ? normalizeDeviceId(raw) : null;
    if (id) ids[key] = id;
  }
  return deviceAnonymousIds(ids)[0];
}
