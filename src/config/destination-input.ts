import type { DestinationConfig } from '../domain/config-types.js';
import { formatDurationMs } from '../domain/duration.js';
import type { FieldError } from '../domain/validation-error.js';
import { COMMON_DEST_KEYS } from './config-parse.js';

/** What the admin API shows instead of a secret, and accepts back as "unchanged". */
export const MASK = '****';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The probabilistic windows in the file's form, as configured (left out when absent). */
function probabilisticWindowsRaw(d: DestinationConfig): Obj {
  const out: Obj = {};
  if (d.probabilistic_click_window_ms !== undefined)
    out.probabilistic_click_window = formatDurationMs(d.probabilistic_click_window_ms);
  if (d.probabilistic_view_window_ms !== undefined)
    out.probabilistic_view_window = formatDurationMs(d.probabilistic_view_window_ms);
  return out;
}

/**
 * A parsed destination back in the config file's form, which parses to the same destination;
 * a secret read from `env:NAME` is written as that reference, never as its value.
 */
export function destinationToRaw(d: DestinationConfig): Obj {
  return {
    id: d.id,
    type: d.type,
    events: d.events,
    event_map: d.event_map,
    click_window: formatDurationMs(d.click_window_ms),
    view_window: formatDurationMs(d.view_window_ms),
    ...probabilisticWindowsRaw(d),
    attributed_only: d.attributed_only,
    view_requires_viewable: d.view_requires_viewable === true,
    retry: {
      base_delay: formatDurationMs(d.retry.baseMs),
      give_up_after: formatDurationMs(d.retry.maxAgeMs),
      max_attempts: d.retry.maxAttempts,
    },
    timeout: formatDurationMs(d.timeout_ms),
    batch: { size: d.batch.size, max_wait: formatDurationMs(d.batch.max_wait_ms) },
    max_in_flight: d.max_in_flight ?? 1,
    merge_window: d.merge_window_auto ? 'auto' : formatDurationMs(d.merge_window_ms ?? 0),
    test_mode: d.test_mode,
    ...(d.base_url ? { base_url: d.base_url } : {}),
    accept: d.accept ?? 'any',
    // Absent is `auto`; an explicit true or false survives an edit.
    ...(d.append_click_id !== undefined ? { append_click_id: d.append_click_id } : {}),
    ...d.settings,
    // The file form names an environment variable where one was named, never its value.
    ...d.secret_refs,
  };
}

/**
 * The admin API's body (common fields, and the type's fields under `settings`) as a
 * config-file destination. With `current`, the body edits it: fields left out keep their
 * value (PATCH), or — with `replace` (PUT) — fall back to their defaults. A secret sent back
 * as `****`, or left out of an edit, keeps its stored value (or its `env:NAME` reference), so
 * the dashboard never needs it.
 */
export function destinationFromInput(
  body: Obj,
  current: DestinationConfig | null,
  secrets: readonly string[],
  replace = false,
): Obj {
  const base = current && !replace ? destinationToRaw(current) : {};
  const raw: Obj = { ...base };
  for (const [k, v] of Object.entries(body)) {
    if (k === 'settings' || k === 'env_id') continue;
    raw[k] = v;
  }
  if (isObj(body.settings)) {
    // A type change starts the settings afresh: the old type's fields would not be known.
    if (current && raw.type !== current.type) {
      for (const k of Object.keys(current.settings)) delete raw[k];
    }
    for (const [k, v] of Object.entries(body.settings)) raw[k] = v;
  } else if (body.settings !== undefined) {
    raw.settings = body.settings;
  }
  if (current && raw.type === current.type) {
    for (const key of secrets) {
      const given = raw[key];
      if ((given === MASK || given === undefined) && current.settings[key] !== undefined)
        raw[key] = current.secret_refs?.[key] ?? current.settings[key];
    }
  }
  return raw;
}

/**
 * Names the type-specific fields of parse errors as the API takes them (`settings.url`), one
 * error per field: a schema may report one missing field twice (required, wrong type). A
 * field the body sent at its top level (the file's flat form) is named where it was sent.
 */
export function apiFieldErrors(errors: readonly FieldError[], body: Obj = {}): FieldError[] {
  const inSettings = isObj(body.settings) ? body.settings : {};
  const byField = new Map<string, FieldError>();
  for (const e of errors) {
    const top = e.field.split('.')[0] ?? '';
    const flat = Object.hasOwn(body, top) && !Object.hasOwn(inSettings, top);
    const field =
      COMMON_DEST_KEYS.has(top) || top === 'body' || top === 'settings' || flat
        ? e.field
        : `settings.${e.field}`;
    if (!byField.has(field)) byField.set(field, { field, message: e.message });
  }
  return [...byField.values()];
}
