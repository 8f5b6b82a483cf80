import type { AppConfig, ConfigOverrides } from '../domain/config-types.js';
import type { FieldError } from '../domain/validation-error.js';
import { parseApplePostbacks } from './apple-postbacks-parse.js';
import { parseApps } from './apps-parse.js';
import { isObj, Reader } from './config-reader.js';
import { freezeConfig } from './config-snapshot.js';
import { parseEnvironment } from './environment-parse.js';
import {
  allowPrivateDestinations,
  connectionLimits,
  fxRates,
  pathPrefix,
  previousSecretsKeys,
  publicUrlConfigured,
  secretsKey,
  trustProxy,
} from './server-settings-parse.js';

// The config file is read in parts: config-reader.ts (typed fields with defaults),
// destination-parse.ts, environment-parse.ts, server-settings-parse.ts (limits, keys, proxies).
export type { ConfigOverrides, SecretSource } from '../domain/config-types.js';
export { COMMON_DEST_KEYS, parseDestinationConfig, secretFields } from './destination-parse.js';

const DEFAULT_TOUCH_RETENTION = '90d';
const DEFAULT_EVENT_RETENTION = '400d';
const DEFAULT_FLUSH_INTERVAL = '10ms';
const DEFAULT_DELIVERY_LEASE = '60s';

/** Requests a minute per client IP / per key before 429 (issue 6); generous for pixels. */
const DEFAULT_RATE_PER_IP = 10_000;
const DEFAULT_RATE_PER_KEY = 100_000;
/** Failed authentications a minute per client IP before it is locked out (issue 18). */
const DEFAULT_AUTH_FAILURES_PER_WINDOW = 20;

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
    apps: parseApps(r, o.apps, envIds),
    apple_postbacks: parseApplePostbacks(r, o.apple_postbacks),
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
  // Read once, never changed: a destination edit makes a new snapshot (config-snapshot.ts).
  return { config: freezeConfig(config), errors: r.errors };
}
