import type { DestinationConfig } from '../../domain/config-types.js';
import { ACTION_SOURCES, type ActionSource, type TrackedEvent } from '../../domain/event.js';
import { sha256Hex } from '../../domain/identity.js';

/**
 * Our event name as the platform calls it: the destination's `event_map` first, then the
 * adapter's standard mapping, else our name unchanged (custom events).
 */
export function platformEventName(
  dest: DestinationConfig,
  ourName: string,
  standard: Readonly<Record<string, string>>,
): string {
  return dest.event_map[ourName] ?? standard[ourName] ?? ourName;
}

/** Our user id as platforms want `external_id`: trimmed, lower-cased, SHA-256 (Meta, TikTok). */
export function hashedExternalId(e: TrackedEvent): string | undefined {
  return e.user.user_id ? sha256Hex(e.user.user_id.trim().toLowerCase()) : undefined;
}

/** Where the event happened: a web page URL when we know one. */
export function eventSourceUrl(e: TrackedEvent): string | undefined {
  const url = e.properties.url;
  return typeof url === 'string' && /^https?:\/\//.test(url) ? url : undefined;
}

/** The API host: the destination's `base_url` when set (tests, proxies), else the platform's. */
export function apiBase(dest: DestinationConfig, fallback: string): string {
  return dest.base_url ?? fallback;
}

/** Order or transaction id: `order_id`/`transaction_id` properties, else the event id. */
export function orderId(e: TrackedEvent): string {
  const p = e.properties;
  const id = p.order_id ?? p.transaction_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : e.event_id;
}

const ACTION_SOURCE_SET: ReadonlySet<string> = new Set(ACTION_SOURCES);

/**
 * Where the event says it happened: its `action_source`, or the `properties.action_source`
 * that events stored before the field joined the contract carried.
 */
export function eventActionSource(e: TrackedEvent): ActionSource | undefined {
  if (e.action_source) return e.action_source;
  const own = e.properties.action_source;
  return typeof own === 'string' && ACTION_SOURCE_SET.has(own) ? (own as ActionSource) : undefined;
}

/** Conversions that did not happen on a page or in an app: store sales, phone orders, CRM. */
const OFFLINE_SOURCES: ReadonlySet<string> = new Set([
  'physical_store',
  'phone_call',
  'system_generated',
]);

/** True for an event that says it happened offline (a store sale, a phone order, a CRM stage). */
export function happenedOffline(e: TrackedEvent): boolean {
  const source = eventActionSource(e);
  return source !== undefined && OFFLINE_SOURCES.has(source);
}
