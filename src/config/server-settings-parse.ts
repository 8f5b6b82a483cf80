import type { AppConfig, ConfigOverrides } from '../domain/config-types.js';
import { parseDurationMs } from '../domain/duration.js';
import { checkFxRate, type FxRate } from '../domain/fx-rates.js';
import { parseCidr } from '../domain/private-address.js';
import type { Obj, Reader } from './config-reader.js';
import { isProxyEntry } from './proxy-entry.js';
import { MIN_SECRETS_KEY_CHARS } from './secret-box.js';

/** A 1 MB body at 35 KB/s; a beacon or a pixel takes milliseconds. */
const DEFAULT_BODY_TIMEOUT = '30s';

/** `body_timeout` (default 30s, more than 0) and `max_connections` (null: from the file limit). */
export function connectionLimits(
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
export function secretsKey(r: Reader, o: Obj, overrides: ConfigOverrides): string | null {
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
export function previousSecretsKeys(r: Reader, o: Obj, overrides: ConfigOverrides): string[] {
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
export function trustProxy(r: Reader, v: unknown): AppConfig['trust_proxy'] {
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
export function allowPrivateDestinations(r: Reader, v: unknown): boolean | string[] {
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
export function publicUrlConfigured(r: Reader, o: Obj, overrides: ConfigOverrides): boolean {
  const url = overrides.public_url ?? o.public_url;
  if (url === undefined || url === '') return false;
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:\/\//.test(url)) {
    r.errors.push({ field: 'public_url', message: 'must be an http(s) URL' });
    return false;
  }
  return true;
}

/** `fx_rates`: a list of `{date, from, to, rate}` (1 from = rate to, from that UTC day). */
export function fxRates(r: Reader, o: Obj): FxRate[] {
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
export function pathPrefix(r: Reader, o: Obj): string {
  const prefix = r.str(o, 'path_prefix', 'path_prefix', '');
  if (prefix === '' || /^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) return prefix;
  r.errors.push({
    field: 'path_prefix',
    message: 'must look like /metrics-xyz (no trailing slash)',
  });
  return '';
}
