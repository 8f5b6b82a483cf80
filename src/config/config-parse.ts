import { createHmac } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { ADAPTERS, adapterFor } from '../delivery/destinations/registry.js';
import { DEFAULT_CLICK_ID_PARAM } from '../domain/click-link.js';
import {
  type ConsentCategories,
  DEFAULT_CONSENT_CATEGORIES,
} from '../domain/consent-categories.js';
import { DEDUP_WINDOW_S } from '../domain/dedup.js';
import { parseDurationMs } from '../domain/duration.js';
import { checkFxRate, type FxRate } from '../domain/fx-rates.js';
import { isCurrencyCode } from '../domain/money.js';
import { parseCidr } from '../domain/private-address.js';
import type { FieldError } from '../domain/validation-error.js';
import type {
  AcceptPolicy,
  AppConfig,
  DestinationConfig,
  EnvironmentConfig,
} from './config-types.js';
import { isProxyEntry } from './proxy-entry.js';
import { MIN_SECRETS_KEY_CHARS } from './secret-box.js';

const DEFAULT_CLICK_WINDOW = '7d';
const DEFAULT_VIEW_WINDOW = '1d';
/** ip+ua and ip matches (DESIGN §6); attribution clamps them to the two windows above. */
const DEFAULT_PROBABILISTIC_WINDOW = '1d';
const DEFAULT_RETRY_BASE = '1s';
const DEFAULT_RETRY_FOR = '24h';
const DEFAULT_MAX_ATTEMPTS = 100;
const DEFAULT_TIMEOUT = '10s';
const DEFAULT_TOUCH_RETENTION = '90d';
const DEFAULT_EVENT_RETENTION = '400d';
const DEFAULT_FLUSH_INTERVAL = '10ms';
const DEFAULT_DELIVERY_LEASE = '60s';
/** A 1 MB body at 35 KB/s; a beacon or a pixel takes milliseconds. */
const DEFAULT_BODY_TIMEOUT = '30s';
/** DESIGN §7: the browser's and the server's copies of a conversion arrive seconds apart. */
const DEFAULT_MERGE_WINDOW = '30s';
/** Copies further apart than the dedup window (48 h) are different events: nothing to merge. */
const MAX_MERGE_WINDOW_MS = DEDUP_WINDOW_S * 1000;
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Settings that come from the process environment rather than the file. */
export interface ConfigOverrides {
  port?: number;
  host?: string;
  data_dir?: string;
  public_url?: string;
  log_level?: string;
  database_url?: string;
  /** Where `env:NAME` secrets are read from (the process environment). */
  secrets?: SecretSource;
  /** `PIXELTRAIL_SECRETS_KEY`: encrypts secrets saved through the admin API. */
  secrets_key?: string;
  /** `PIXELTRAIL_SECRETS_KEY_PREVIOUS`: keys being rotated out, comma-separated. */
  secrets_key_previous?: string[];
}

/** Environment variables for `env:NAME` secrets. */
export type SecretSource = Record<string, string | undefined>;

class Reader {
  readonly errors: FieldError[] = [];

  str(o: Obj, key: string, path: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v === '') {
      this.errors.push({ field: path, message: 'must be a non-empty string' });
      return '';
    }
    return v;
  }

  id(o: Obj, key: string, path: string): string {
    const v = this.str(o, key, path);
    if (v && !ID_RE.test(v))
      this.errors.push({ field: path, message: 'must be 1-64 of A-Z a-z 0-9 _ . -' });
    return v;
  }

  list(o: Obj, key: string, path: string, fallback: string[]): string[] {
    const v = o[key];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.errors.push({ field: path, message: 'must be a list of strings' });
      return fallback;
    }
    return v as string[];
  }

  bool(o: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.errors.push({ field: path, message: 'must be true or false' });
    return v === true;
  }

  duration(o: Obj, key: string, path: string, fallback: string): number {
    const v = o[key] ?? fallback;
    const ms = typeof v === 'string' ? parseDurationMs(v) : null;
    if (ms === null) {
      this.errors.push({ field: path, message: 'must be a duration such as 30s, 15m, 12h, 7d' });
      return 0;
    }
    return ms;
  }

  oneOf<T extends string>(
    o: Obj,
    key: string,
    path: string,
    allowed: readonly T[],
    fallback: T,
  ): T {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.errors.push({ field: path, message: `must be one of ${allowed.join(', ')}` });
      return fallback;
    }
    return v as T;
  }

  count(o: Obj, key: string, path: string, fallback: number): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      this.errors.push({ field: path, message: 'must be a whole number ≥ 0' });
      return fallback;
    }
    return v;
  }

  int(o: Obj, key: string, path: string, fallback: number): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      this.errors.push({ field: path, message: 'must be a positive integer' });
      return fallback;
    }
    return v;
  }
}

/** Destination fields every type has; the rest of a destination's fields are its settings. */
export const COMMON_DEST_KEYS = new Set([
  'id',
  'type',
  'events',
  'event_map',
  'click_window',
  'view_window',
  'probabilistic_click_window',
  'probabilistic_view_window',
  'attributed_only',
  'retry',
  'timeout',
  'batch',
  'max_in_flight',
  'merge_window',
  'test_mode',
  'base_url',
  'accept',
  'append_click_id',
]);

const ACCEPT_POLICIES: readonly AcceptPolicy[] = ['any', 'signed', 'server_only'];
/** Requests a minute per client IP / per key before 429 (issue 6); generous for pixels. */
const DEFAULT_RATE_PER_IP = 10_000;
const DEFAULT_RATE_PER_KEY = 100_000;
/** Failed authentications a minute per client IP before it is locked out (issue 18). */
const DEFAULT_AUTH_FAILURES_PER_WINDOW = 20;

/** `consent_categories: {ads: [...], analytics: [...]}`; either list may be left out. */
function parseConsentCategories(r: Reader, v: unknown, path: string): ConsentCategories {
  if (v === undefined) return DEFAULT_CONSENT_CATEGORIES;
  if (!isObj(v)) {
    r.errors.push({ field: path, message: 'must be {ads: [...], analytics: [...]}' });
    return DEFAULT_CONSENT_CATEGORIES;
  }
  return {
    ads: r.list(v, 'ads', `${path}.ads`, DEFAULT_CONSENT_CATEGORIES.ads),
    analytics: r.list(v, 'analytics', `${path}.analytics`, DEFAULT_CONSENT_CATEGORIES.analytics),
  };
}

/** Names of the settings fields an adapter's schema marks `secret: true`. */
export function secretFields(schema: TSchema): string[] {
  const props = (schema as { properties?: Record<string, { secret?: boolean }> }).properties ?? {};
  return Object.entries(props)
    .filter(([, p]) => p.secret === true)
    .map(([k]) => k);
}

function parseSettings(
  r: Reader,
  o: Obj,
  type: string,
  path: string,
  env: SecretSource,
  refs: Record<string, string>,
): Record<string, unknown> {
  const adapter = adapterFor(type);
  const settings: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!COMMON_DEST_KEYS.has(k)) settings[k] = v;
  if (!adapter) return settings;
  // `env:NAME` keeps a secret out of the config file: it is read from the environment.
  for (const key of secretFields(adapter.settingsSchema)) {
    const v = settings[key];
    if (typeof v === 'string' && v.startsWith('env:')) {
      const name = v.slice(4);
      const value = env[name];
      refs[key] = v;
      if (value) settings[key] = value;
      else
        r.errors.push({
          field: `${path}.${key}`,
          message: `environment variable ${name} is not set`,
        });
    }
  }
  let schemaErrors = 0;
  for (const e of Value.Errors(adapter.settingsSchema, settings)) {
    schemaErrors++;
    const field = e.path.replace(/^\//, '').replace(/\//g, '.');
    const message =
      e.type === ValueErrorType.ObjectAdditionalProperties ? 'is not a known field' : e.message;
    if (field === '' && e.type === ValueErrorType.ObjectAdditionalProperties) {
      for (const k of Object.keys(settings)) {
        if (!(k in ((adapter.settingsSchema as { properties?: object }).properties ?? {}))) {
          r.errors.push({
            field: `${path}.${k}`,
            message: `is not a known field of ${type} destinations`,
          });
        }
      }
      continue;
    }
    r.errors.push({ field: `${path}.${field}`, message });
  }
  if (schemaErrors === 0) {
    for (const e of adapter.checkSettings?.(settings) ?? [])
      r.errors.push({ field: `${path}.${e.field}`, message: e.message });
  }
  return settings;
}

/**
 * One destination in the config file's form (flat: settings beside the common fields), checked
 * exactly as the file's destinations are. Fields in `errors` are relative to the destination.
 * The admin API uses this, so a destination made in the dashboard passes the same rules.
 */
export function parseDestinationConfig(
  raw: unknown,
  secrets: SecretSource = {},
): { dest: DestinationConfig; errors: FieldError[] } {
  const r = new Reader();
  const dest = parseDestination(r, raw, '', secrets);
  return {
    dest,
    errors: r.errors.map((e) => ({ ...e, field: e.field.replace(/^\./, '') || 'body' })),
  };
}

/**
 * `merge_window`: a duration up to the dedup window; `0` (a number too) sends at once; `auto`
 * (the default) holds 30 s only where the other side sends the event name too (see
 * ingest/copy-sources.ts).
 */
function parseMergeWindow(r: Reader, o: Obj, path: string): { ms: number; auto: boolean } {
  if (o.merge_window === undefined || o.merge_window === 'auto')
    return { ms: r.duration({}, 'merge_window', path, DEFAULT_MERGE_WINDOW), auto: true };
  return { ms: parseFixedMergeWindow(r, o, path), auto: false };
}

function parseFixedMergeWindow(r: Reader, o: Obj, path: string): number {
  if (o.merge_window === 0 || o.merge_window === '0') return 0;
  const ms = r.duration(o, 'merge_window', path, DEFAULT_MERGE_WINDOW);
  if (ms > MAX_MERGE_WINDOW_MS) {
    r.errors.push({ field: path, message: 'must be at most 48h (the dedup window)' });
    return 0;
  }
  return ms;
}

function mergeWindowFields(w: { ms: number; auto: boolean }) {
  return w.auto ? { merge_window_ms: w.ms, merge_window_auto: true } : { merge_window_ms: w.ms };
}

function parseDestination(
  r: Reader,
  raw: unknown,
  path: string,
  env: SecretSource,
): DestinationConfig {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  const type = r.str(o, 'type', `${path}.type`);
  if (type && !adapterFor(type)) {
    const known = Object.keys(ADAPTERS).join(', ');
    r.errors.push({
      field: `${path}.type`,
      message: `unknown destination type "${type}" (known: ${known})`,
    });
  }
  const retry = isObj(o.retry) ? o.retry : {};
  const batch = isObj(o.batch) ? o.batch : {};
  const eventMap = isObj(o.event_map) ? o.event_map : {};
  if (
    o.event_map !== undefined &&
    (!isObj(o.event_map) || Object.values(eventMap).some((v) => typeof v !== 'string'))
  ) {
    r.errors.push({
      field: `${path}.event_map`,
      message: 'must map event names to platform event names',
    });
  }
  const baseUrl = o.base_url === undefined ? null : r.str(o, 'base_url', `${path}.base_url`);
  if (baseUrl && !/^https?:\/\//.test(baseUrl)) {
    r.errors.push({ field: `${path}.base_url`, message: 'must be an http(s) URL' });
  }
  const refs: Record<string, string> = {};
  const dest: DestinationConfig = {
    id: r.id(o, 'id', `${path}.id`),
    type,
    events: r.list(o, 'events', `${path}.events`, ['Purchase']),
    event_map: eventMap as Record<string, string>,
    click_window_ms: r.duration(o, 'click_window', `${path}.click_window`, DEFAULT_CLICK_WINDOW),
    view_window_ms: r.duration(o, 'view_window', `${path}.view_window`, DEFAULT_VIEW_WINDOW),
    probabilistic_click_window_ms: r.duration(
      o,
      'probabilistic_click_window',
      `${path}.probabilistic_click_window`,
      DEFAULT_PROBABILISTIC_WINDOW,
    ),
    probabilistic_view_window_ms: r.duration(
      o,
      'probabilistic_view_window',
      `${path}.probabilistic_view_window`,
      DEFAULT_PROBABILISTIC_WINDOW,
    ),
    attributed_only: r.bool(o, 'attributed_only', `${path}.attributed_only`, true),
    retry: {
      baseMs: r.duration(retry, 'base_delay', `${path}.retry.base_delay`, DEFAULT_RETRY_BASE),
      maxAgeMs: r.duration(
        retry,
        'give_up_after',
        `${path}.retry.give_up_after`,
        DEFAULT_RETRY_FOR,
      ),
      maxAttempts: r.int(retry, 'max_attempts', `${path}.retry.max_attempts`, DEFAULT_MAX_ATTEMPTS),
    },
    timeout_ms: r.duration(o, 'timeout', `${path}.timeout`, DEFAULT_TIMEOUT),
    max_in_flight: r.int(o, 'max_in_flight', `${path}.max_in_flight`, 1),
    batch: {
      size: r.int(batch, 'size', `${path}.batch.size`, adapterFor(type)?.maxBatch ?? 1),
      max_wait_ms: r.duration(batch, 'max_wait', `${path}.batch.max_wait`, '0ms'),
    },
    ...mergeWindowFields(parseMergeWindow(r, o, `${path}.merge_window`)),
    test_mode: r.bool(o, 'test_mode', `${path}.test_mode`, false),
    base_url: baseUrl ? baseUrl.replace(/\/+$/, '') : null,
    accept: r.oneOf(o, 'accept', `${path}.accept`, ACCEPT_POLICIES, 'any'),
    settings: parseSettings(r, o, type, path, env, refs),
  };
  // `auto` (the default) appends where the environment's tag runs; true or false decide.
  if (o.append_click_id !== undefined && o.append_click_id !== 'auto')
    dest.append_click_id = r.bool(o, 'append_click_id', `${path}.append_click_id`, true);
  if (Object.keys(refs).length > 0) dest.secret_refs = refs;
  return dest;
}

/** `click_id_param`: a plain parameter name, so pages, proxies and the tag read it alike. */
function clickIdParam(r: Reader, o: Obj, path: string): string {
  const name = r.str(o, 'click_id_param', path, DEFAULT_CLICK_ID_PARAM);
  if (name && !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    r.errors.push({ field: path, message: 'must be 1-64 letters, digits, _ . or -' });
    return DEFAULT_CLICK_ID_PARAM;
  }
  return name || DEFAULT_CLICK_ID_PARAM;
}

function parseEnvironment(
  r: Reader,
  raw: unknown,
  path: string,
  secrets: SecretSource,
): EnvironmentConfig {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  const destinations = Array.isArray(o.destinations) ? o.destinations : [];
  if (o.destinations !== undefined && !Array.isArray(o.destinations)) {
    r.errors.push({ field: `${path}.destinations`, message: 'must be a list' });
  }
  const writeKey = r.str(o, 'write_key', `${path}.write_key`);
  const env: EnvironmentConfig = {
    id: r.id(o, 'id', `${path}.id`),
    name: r.str(o, 'name', `${path}.name`, String(o.id ?? '')),
    write_key: writeKey,
    previous_write_keys: r.list(o, 'previous_write_keys', `${path}.previous_write_keys`, []),
    consent_default: r.oneOf(
      o,
      'consent_default',
      `${path}.consent_default`,
      ['granted', 'denied'] as const,
      'granted',
    ),
    tcf_vendor_id:
      o.tcf_vendor_id === undefined ? null : r.int(o, 'tcf_vendor_id', `${path}.tcf_vendor_id`, 1),
    ip_storage: r.oneOf(
      o,
      'ip_storage',
      `${path}.ip_storage`,
      ['hmac', 'truncated', 'raw'] as const,
      'hmac',
    ),
    // Derived so that IP matching survives restarts without a setting; set ip_secret to keep
    // it across a write key rotation.
    ip_secret: r.str(
      o,
      'ip_secret',
      `${path}.ip_secret`,
      createHmac('sha256', writeKey || 'pixeltrail')
        .update(`ip:${String(o.id)}`)
        .digest('hex'),
    ),
    allowed_origins: r.list(o, 'allowed_origins', `${path}.allowed_origins`, []),
    click_url_hosts: r.list(o, 'click_url_hosts', `${path}.click_url_hosts`, []),
    click_secret: r.str(o, 'click_secret', `${path}.click_secret`, writeKey),
    click_id_param: clickIdParam(r, o, `${path}.click_id_param`),
    honor_dnt: r.bool(o, 'honor_dnt', `${path}.honor_dnt`, false),
    reporting_currency: reportingCurrency(r, o, path),
    cookie_partitioned: r.bool(o, 'cookie_partitioned', `${path}.cookie_partitioned`, false),
    follow_cmp: r.bool(o, 'follow_cmp', `${path}.follow_cmp`, false),
    consent_categories: parseConsentCategories(
      r,
      o.consent_categories,
      `${path}.consent_categories`,
    ),
    destinations: destinations.map((d, i) =>
      parseDestination(r, d, `${path}.destinations[${i}]`, secrets),
    ),
  };
  const ids = env.destinations.map((d) => d.id);
  if (new Set(ids).size !== ids.length) {
    r.errors.push({ field: `${path}.destinations`, message: 'destination ids must be unique' });
  }
  return env;
}

/**
 * Turns the parsed config file (DESIGN §4 contract) into a typed config with every default
 * filled in; `errors` lists each bad field by path.
 */
export function parseConfig(
  raw: unknown,
  overrides: ConfigOverrides,
  demo = false,
): { config: AppConfig; errors: FieldError[] } {
  const r = new Reader();
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: '', message: 'config must be an object' });
  const envs = Array.isArray(o.environments) ? o.environments : [];
  if (!Array.isArray(o.environments) || envs.length === 0) {
    r.errors.push({ field: 'environments', message: 'must list at least one environment' });
  }
  const environments = envs.map((e, i) =>
    parseEnvironment(r, e, `environments[${i}]`, overrides.secrets ?? {}),
  );
  const envIds = environments.map((e) => e.id);
  if (new Set(envIds).size !== envIds.length) {
    r.errors.push({ field: 'environments', message: 'environment ids must be unique' });
  }
  const keys = environments.flatMap((e) => [e.write_key, ...e.previous_write_keys]);
  if (new Set(keys).size !== keys.length) {
    r.errors.push({ field: 'environments', message: 'write keys must be unique' });
  }
  const adminTokens = [
    o.admin_token,
    ...(Array.isArray(o.previous_admin_tokens) ? o.previous_admin_tokens : []),
  ];
  // A write key sits in every shop's page source; it must never open the admin API.
  if (keys.some((k) => adminTokens.includes(k))) {
    r.errors.push({ field: 'admin_token', message: 'must differ from every write key' });
  }
  const lease = r.duration(o, 'delivery_lease', 'delivery_lease', DEFAULT_DELIVERY_LEASE);
  // A lease shorter than a send would let a second worker take a row still being sent.
  const slowest = Math.max(
    0,
    ...environments.flatMap((e) => e.destinations.map((d) => d.timeout_ms)),
  );
  if (lease > 0 && lease <= slowest) {
    r.errors.push({
      field: 'delivery_lease',
      message: 'must be longer than every destination timeout',
    });
  }
  const rate = isObj(o.rate_limit) ? o.rate_limit : {};
  const port = overrides.port ?? (typeof o.port === 'number' ? o.port : 8080);
  const config: AppConfig = {
    port,
    host: overrides.host ?? (typeof o.host === 'string' ? o.host : '0.0.0.0'),
    data_dir: overrides.data_dir ?? (typeof o.data_dir === 'string' ? o.data_dir : './data'),
    database_url:
      overrides.database_url ?? (typeof o.database_url === 'string' ? o.database_url : null),
    admin_token: r.str(o, 'admin_token', 'admin_token'),
    previous_admin_tokens: r.list(o, 'previous_admin_tokens', 'previous_admin_tokens', []),
    rate_limit: {
      per_ip: r.count(rate, 'per_ip', 'rate_limit.per_ip', DEFAULT_RATE_PER_IP),
      per_key: r.count(rate, 'per_key', 'rate_limit.per_key', DEFAULT_RATE_PER_KEY),
      auth_failures: r.count(
        rate,
        'auth_failures',
        'rate_limit.auth_failures',
        DEFAULT_AUTH_FAILURES_PER_WINDOW,
      ),
    },
    environments,
    touch_retention_ms: r.duration(
      o,
      'touch_retention',
      'touch_retention',
      DEFAULT_TOUCH_RETENTION,
    ),
    event_retention_ms: r.duration(
      o,
      'event_retention',
      'event_retention',
      DEFAULT_EVENT_RETENTION,
    ),
    flush_interval_ms: r.duration(o, 'flush_interval', 'flush_interval', DEFAULT_FLUSH_INTERVAL),
    delivery_lease_ms: lease,
    trust_proxy: trustProxy(r, o.trust_proxy),
    ...connectionLimits(r, o),
    allow_private_destinations: allowPrivateDestinations(r, o.allow_private_destinations),
    metrics_token:
      o.metrics_token === undefined ? null : r.str(o, 'metrics_token', 'metrics_token'),
    log_level: overrides.log_level ?? (typeof o.log_level === 'string' ? o.log_level : 'info'),
    demo,
    public_url:
      overrides.public_url ??
      (typeof o.public_url === 'string' ? o.public_url : `http://localhost:${port}`),
    public_url_configured: publicUrlConfigured(r, o, overrides),
    path_prefix: pathPrefix(r, o),
    secrets_key: secretsKey(r, o, overrides),
    secrets_key_previous: previousSecretsKeys(r, o, overrides),
    fx_rates: fxRates(r, o),
  };
  return { config, errors: r.errors };
}

/** `body_timeout` (default 30s, more than 0) and `max_connections` (null: from the file limit). */
function connectionLimits(
  r: Reader,
  o: Obj,
): Pick<AppConfig, 'body_timeout_ms' | 'max_connections'> {
  const bodyTimeout = r.duration(o, 'body_timeout', 'body_timeout', DEFAULT_BODY_TIMEOUT);
  if (bodyTimeout <= 0 && o.body_timeout !== undefined)
    r.errors.push({ field: 'body_timeout', message: 'must be longer than 0' });
  return {
    body_timeout_ms: bodyTimeout > 0 ? bodyTimeout : (parseDurationMs(DEFAULT_BODY_TIMEOUT) ?? 0),
    max_connections:
      o.max_connections === undefined || o.max_connections === null
        ? null
        : r.int(o, 'max_connections', 'max_connections', 1),
  };
}

/** `secrets_key` (or `PIXELTRAIL_SECRETS_KEY`, which wins); null when neither is set. */
function secretsKey(r: Reader, o: Obj, overrides: ConfigOverrides): string | null {
  const key = overrides.secrets_key ?? r.str(o, 'secrets_key', 'secrets_key', '');
  if (key === '') return null;
  if (key.length < MIN_SECRETS_KEY_CHARS) {
    r.errors.push({
      field: 'secrets_key',
      message: `must be at least ${MIN_SECRETS_KEY_CHARS} characters (openssl rand -base64 32)`,
    });
    return null;
  }
  return key;
}

/**
 * `secrets_key_previous` (or `PIXELTRAIL_SECRETS_KEY_PREVIOUS`, which wins): keys secrets may
 * still be sealed with while `secrets_key` is rotated; one key or a list.
 */
function previousSecretsKeys(r: Reader, o: Obj, overrides: ConfigOverrides): string[] {
  const field = 'secrets_key_previous';
  const raw = overrides.secrets_key_previous ?? o[field];
  if (raw === undefined) return [];
  const keys = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
    r.errors.push({ field, message: 'must be a key or a list of keys' });
    return [];
  }
  const bad = keys.findIndex((k) => k.length < MIN_SECRETS_KEY_CHARS);
  if (bad >= 0) {
    r.errors.push({
      field: `${field}[${bad}]`,
      message: `must be at least ${MIN_SECRETS_KEY_CHARS} characters`,
    });
    return [];
  }
  if (keys.length > 0 && !(overrides.secrets_key ?? o.secrets_key)) {
    r.errors.push({ field, message: 'needs secrets_key, the key secrets are sealed with now' });
    return [];
  }
  return keys as string[];
}

/**
 * `trust_proxy`: false, true (one proxy), a hop count, or the proxies' addresses and CIDRs
 * (a list, or one comma-separated string, as Fastify takes them); `loopback`, `linklocal`
 * and `uniquelocal` name those ranges.
 */
function trustProxy(r: Reader, v: unknown): AppConfig['trust_proxy'] {
  const field = 'trust_proxy';
  if (v === undefined || v === false || v === 0) return false;
  if (v === true) return 1;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()) : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string')) {
    r.errors.push({
      field,
      message: 'must be true, false, a hop count, or a list of proxy addresses or CIDRs',
    });
    return false;
  }
  const bad = list.findIndex((x) => !isProxyEntry(x));
  if (bad >= 0) {
    r.errors.push({ field: `${field}[${bad}]`, message: 'is not an IP address or CIDR' });
    return false;
  }
  return list as string[];
}

/** `allow_private_destinations`: true, false, or a list of CIDRs (an address is its own /32). */
function allowPrivateDestinations(r: Reader, v: unknown): boolean | string[] {
  const field = 'allow_private_destinations';
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    r.errors.push({ field, message: 'must be true, false or a list of CIDRs' });
    return false;
  }
  const bad = list.findIndex((x) => parseCidr(x) === null);
  if (bad >= 0) {
    r.errors.push({ field: `${field}[${bad}]`, message: 'is not a CIDR such as 10.0.0.0/8' });
    return false;
  }
  return list as string[];
}

/** Whether a public URL was given; one that is not an http(s) URL is named. */
function publicUrlConfigured(r: Reader, o: Obj, overrides: ConfigOverrides): boolean {
  const url = overrides.public_url ?? o.public_url;
  if (url === undefined || url === '') return false;
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:\/\//.test(url)) {
    r.errors.push({ field: 'public_url', message: 'must be an http(s) URL' });
    return false;
  }
  return true;
}

/** An environment's `reporting_currency`: an ISO 4217 code, or null when not set. */
function reportingCurrency(r: Reader, o: Obj, path: string): string | null {
  if (o.reporting_currency === undefined) return null;
  const code = r.str(o, 'reporting_currency', `${path}.reporting_currency`).toUpperCase();
  if (code && !isCurrencyCode(code))
    r.errors.push({
      field: `${path}.reporting_currency`,
      message: 'must be an ISO 4217 currency code such as EUR',
    });
  return isCurrencyCode(code) ? code : null;
}

/** `fx_rates`: a list of `{date, from, to, rate}` (1 from = rate to, from that UTC day). */
function fxRates(r: Reader, o: Obj): FxRate[] {
  if (o.fx_rates === undefined) return [];
  if (!Array.isArray(o.fx_rates)) {
    r.errors.push({ field: 'fx_rates', message: 'must be a list of {date, from, to, rate}' });
    return [];
  }
  const rates: FxRate[] = [];
  o.fx_rates.forEach((raw, i) => {
    const checked = checkFxRate(raw);
    if (checked.ok) rates.push(checked.rate);
    else
      for (const e of checked.errors)
        r.errors.push({
          field: `fx_rates[${i}]${e.field ? `.${e.field}` : ''}`,
          message: e.message,
        });
  });
  return rates;
}

/** `path_prefix`: `/one/or/more-segments`, without a trailing slash; empty for none. */
function pathPrefix(r: Reader, o: Obj): string {
  const prefix = r.str(o, 'path_prefix', 'path_prefix', '');
  if (prefix === '' || /^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) return prefix;
  r.errors.push({
    field: 'path_prefix',
    message: 'must look like /metrics-xyz (no trailing slash)',
  });
  return '';
}
