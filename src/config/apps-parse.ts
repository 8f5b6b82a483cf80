import type { AppEntry, AppPlatform } from '../domain/config-types.js';
import { isObj, type Reader } from './config-reader.js';
import { parseConversionSchema } from './conversion-schema-parse.js';
import { parseSkanCampaigns } from './skan-campaigns-parse.js';

const PLATFORMS: readonly AppPlatform[] = ['ios', 'android'];
/** An App Store id is the number in the app's store URL (`id1234567890`). */
const APP_STORE_ID_RE = /^[0-9]{1,20}$/;
/** A Play package name (applicationId): dot-separated Java identifiers. */
const PACKAGE_RE = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;
const BUNDLE_ID_RE = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

/**
 * Reads the top-level `apps` list (issue 25): which environment a mobile app's installs,
 * events and Apple postbacks belong to. An iOS app is named by its App Store id (SKAdNetwork
 * and AdAttributionKit postbacks carry it as `app-id` / `advertised-item-identifier`), an
 * Android app by its package name; `bundle_id` optionally names the iOS app the way SDKs do.
 */
export function parseApps(r: Reader, raw: unknown, envIds: readonly string[]): AppEntry[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    r.errors.push({ field: 'apps', message: 'must be a list of {app_id, platform, env_id}' });
    return [];
  }
  const apps = raw.map((a, i) => parseApp(r, a, `apps[${i}]`, envIds));
  const keys = apps.map((a) => `${a.platform}:${a.app_id}`);
  if (new Set(keys).size !== keys.length) {
    r.errors.push({ field: 'apps', message: 'each (platform, app_id) may be listed once' });
  }
  return apps;
}

function parseApp(r: Reader, raw: unknown, path: string, envIds: readonly string[]): AppEntry {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  for (const k of Object.keys(o)) {
    if (!APP_KEYS.has(k)) r.errors.push({ field: `${path}.${k}`, message: 'is not a known field' });
  }
  const platform = r.oneOf(o, 'platform', `${path}.platform`, PLATFORMS, 'ios');
  if (o.platform === undefined) {
    r.errors.push({ field: `${path}.platform`, message: 'must be one of ios, android' });
  }
  // YAML reads an unquoted store id as a number; both spellings mean the same app.
  const rawId = typeof o.app_id === 'number' ? String(o.app_id) : o.app_id;
  const app_id = r.str({ app_id: rawId }, 'app_id', `${path}.app_id`);
  if (app_id && platform === 'ios' && !APP_STORE_ID_RE.test(app_id)) {
    r.errors.push({
      field: `${path}.app_id`,
      message: 'an iOS app is named by its App Store id, digits only (id1234567890 → 1234567890)',
    });
  }
  if (app_id && platform === 'android' && !PACKAGE_RE.test(app_id)) {
    r.errors.push({
      field: `${path}.app_id`,
      message: 'an Android app is named by its package name, e.g. com.example.shop',
    });
  }
  const env_id = r.str(o, 'env_id', `${path}.env_id`);
  if (env_id && !envIds.includes(env_id)) {
    r.errors.push({ field: `${path}.env_id`, message: 'must name one of the environments' });
  }
  const entry: AppEntry = { app_id, platform, env_id };
  if (o.bundle_id !== undefined) {
    const bundle = r.str(o, 'bundle_id', `${path}.bundle_id`);
    if (bundle && !BUNDLE_ID_RE.test(bundle)) {
      r.errors.push({ field: `${path}.bundle_id`, message: 'must look like com.example.app' });
    }
    entry.bundle_id = bundle;
  }
  if (o.name !== undefined) entry.name = r.str(o, 'name', `${path}.name`);
  if (o.ios_probabilistic_matching !== undefined)
    entry.ios_probabilistic_matching = r.bool(
      o,
      'ios_probabilistic_matching',
      `${path}.ios_probabilistic_matching`,
      false,
    );
  if (o.conversion_values !== undefined)
    entry.conversion_values = parseConversionSchema(
      r,
      o.conversion_values,
      `${path}.conversion_values`,
    );
  if (o.skan_campaigns !== undefined)
    entry.skan_campaigns = parseSkanCampaigns(r, o.skan_campaigns, `${path}.skan_campaigns`);
  return entry;
}

const APP_KEYS = new Set([
  'app_id',
  'platform',
  'env_id',
  'bundle_id',
  'name',
  'ios_probabilistic_matching',
  'conversion_values',
  'skan_campaigns',
]);
