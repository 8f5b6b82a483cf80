import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { ADAPTERS, adapterFor } from '../delivery/destinations/registry.js';
import type { AcceptPolicy, DestinationConfig, SecretSource } from '../domain/config-types.js';
import { DEDUP_WINDOW_S } from '../domain/dedup.js';
import type { FieldError } from '../domain/validation-error.js';
import { isObj, type Obj, Reader } from './config-reader.js';

const DEFAULT_CLICK_WINDOW = '7d';
const DEFAULT_VIEW_WINDOW = '1d';
/** ip+ua and ip matches (DESIGN §6); attribution clamps them to the two windows above. */
const DEFAULT_PROBABILISTIC_WINDOW = '1d';
const DEFAULT_RETRY_BASE = '1s';
const DEFAULT_RETRY_FOR = '24h';
const DEFAULT_MAX_ATTEMPTS = 100;
const DEFAULT_TIMEOUT = '10s';
/** DESIGN §7: the browser's and the server's copies of a conversion arrive seconds apart. */
const DEFAULT_MERGE_WINDOW = '30s';
/** Copies further apart than the dedup window (48 h) are different events: nothing to merge. */
const MAX_MERGE_WINDOW_MS = DEDUP_WINDOW_S * 1000;

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
  'view_requires_viewable',
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

export function parseDestination(
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
  if (r.bool(o, 'view_requires_viewable', `${path}.view_requires_viewable`, false))
    dest.view_requires_viewable = true;
  // `auto` (the default) appends where the environment's tag runs; true or false decide.
  if (o.append_click_id !== undefined && o.append_click_id !== 'auto')
    dest.append_click_id = r.bool(o, 'append_click_id', `${path}.append_click_id`, true);
  if (Object.keys(refs).length > 0) dest.secret_refs = refs;
  return dest;
}
