import { createHmac } from 'node:crypto';
import { parseChannelSettings } from '../domain/channel-rules.js';
import { DEFAULT_CLICK_ID_PARAM } from '../domain/click-link.js';
import type { EnvironmentConfig, SecretSource } from '../domain/config-types.js';
import {
  type ConsentCategories,
  DEFAULT_CONSENT_CATEGORIES,
} from '../domain/consent-categories.js';
import { isCurrencyCode } from '../domain/money.js';
import { isObj, type Obj, type Reader } from './config-reader.js';
import { parseDestination } from './destination-parse.js';
import { parseInstallFraud } from './install-fraud-parse.js';

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

/** `click_id_param`: a plain parameter name, so pages, proxies and the tag read it alike. */
function clickIdParam(r: Reader, o: Obj, path: string): string {
  const name = r.str(o, 'click_id_param', path, DEFAULT_CLICK_ID_PARAM);
  if (name && !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    r.errors.push({ field: path, message: 'must be 1-64 letters, digits, _ . or -' });
    return DEFAULT_CLICK_ID_PARAM;
  }
  return name || DEFAULT_CLICK_ID_PARAM;
}

export function parseEnvironment(
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
    ios_probabilistic_matching: r.bool(
      o,
      'ios_probabilistic_matching',
      `${path}.ios_probabilistic_matching`,
      false,
    ),
    consent_categories: parseConsentCategories(
      r,
      o.consent_categories,
      `${path}.consent_categories`,
    ),
    install_fraud: parseInstallFraud(r, o.install_fraud, `${path}.install_fraud`),
    destinations: destinations.map((d, i) =>
      parseDestination(r, d, `${path}.destinations[${i}]`, secrets),
    ),
  };
  if (o.channels !== undefined)
    env.channels = parseChannelSettings(o.channels, `${path}.channels`, r.errors);
  const ids = env.destinations.map((d) => d.id);
  if (new Set(ids).size !== ids.length) {
    r.errors.push({ field: `${path}.destinations`, message: 'destination ids must be unique' });
  }
  return env;
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
