import { parseDurationMs } from '../domain/duration.js';
import type { FieldError } from '../domain/validation-error.js';
import type { AppConfig, DestinationConfig, EnvironmentConfig } from './config-types.js';

const DEFAULT_CLICK_WINDOW = '7d';
const DEFAULT_VIEW_WINDOW = '1d';
const DEFAULT_RETRY_BASE = '1s';
const DEFAULT_RETRY_FOR = '24h';
const DEFAULT_MAX_ATTEMPTS = 100;
const DEFAULT_TIMEOUT = '10s';
const DEFAULT_TOUCH_RETENTION = '90d';
const DEFAULT_FLUSH_INTERVAL = '10ms';
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
}

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

  int(o: Obj, key: string, path: string, fallback: number): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      this.errors.push({ field: path, message: 'must be a positive integer' });
      return fallback;
    }
    return v;
  }
}

function parseDestination(r: Reader, raw: unknown, path: string): DestinationConfig {
  const o = isObj(raw) ? raw : {};
  if (!isObj(raw)) r.errors.push({ field: path, message: 'must be an object' });
  const type = r.str(o, 'type', `${path}.type`);
  if (type && type !== 'webhook') {
    r.errors.push({
      field: `${path}.type`,
      message: `unknown destination type "${type}" (known: webhook)`,
    });
  }
  const url = r.str(o, 'url', `${path}.url`);
  if (url && !/^https?:\/\//.test(url))
    r.errors.push({ field: `${path}.url`, message: 'must be an http(s) URL' });
  const retry = isObj(o.retry) ? o.retry : {};
  return {
    id: r.id(o, 'id', `${path}.id`),
    type: 'webhook',
    url,
    secret: typeof o.secret === 'string' ? o.secret : null,
    events: r.list(o, 'events', `${path}.events`, ['Purchase']),
    click_window_ms: r.duration(o, 'click_window', `${path}.click_window`, DEFAULT_CLICK_WINDOW),
    view_window_ms: r.duration(o, 'view_window', `${path}.view_window`, DEFAULT_VIEW_WINDOW),
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
  };
}

function parseEnvironment(r: Reader, raw: unknown, path: string): EnvironmentConfig {
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
    allowed_origins: r.list(o, 'allowed_origins', `${path}.allowed_origins`, []),
    click_url_hosts: r.list(o, 'click_url_hosts', `${path}.click_url_hosts`, []),
    click_secret: r.str(o, 'click_secret', `${path}.click_secret`, writeKey),
    honor_dnt: r.bool(o, 'honor_dnt', `${path}.honor_dnt`, false),
    destinations: destinations.map((d, i) => parseDestination(r, d, `${path}.destinations[${i}]`)),
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
  const environments = envs.map((e, i) => parseEnvironment(r, e, `environments[${i}]`));
  const envIds = environments.map((e) => e.id);
  if (new Set(envIds).size !== envIds.length) {
    r.errors.push({ field: 'environments', message: 'environment ids must be unique' });
  }
  const keys = environments.map((e) => e.write_key);
  if (new Set(keys).size !== keys.length) {
    r.errors.push({ field: 'environments', message: 'write keys must be unique' });
  }
  const port = overrides.port ?? (typeof o.port === 'number' ? o.port : 8080);
  const config: AppConfig = {
    port,
    host: overrides.host ?? (typeof o.host === 'string' ? o.host : '0.0.0.0'),
    data_dir: overrides.data_dir ?? (typeof o.data_dir === 'string' ? o.data_dir : './data'),
    admin_token: r.str(o, 'admin_token', 'admin_token'),
    environments,
    touch_retention_ms: r.duration(
      o,
      'touch_retention',
      'touch_retention',
      DEFAULT_TOUCH_RETENTION,
    ),
    flush_interval_ms: r.duration(o, 'flush_interval', 'flush_interval', DEFAULT_FLUSH_INTERVAL),
    trust_proxy: r.bool(o, 'trust_proxy', 'trust_proxy', false),
    log_level: overrides.log_level ?? (typeof o.log_level === 'string' ? o.log_level : 'info'),
    demo,
    public_url:
      overrides.public_url ??
      (typeof o.public_url === 'string' ? o.public_url : `http://localhost:${port}`),
  };
  return { config, errors: r.errors };
}
