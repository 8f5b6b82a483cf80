/**
 * GA4 ecommerce events in `window.dataLayer` — GTM's `{event, ecommerce}` objects and gtag's
 * `['event', name, params]` arguments — mapped to pixeltrail events.
 * See https://developers.google.com/analytics/devguides/collection/ga4/ecommerce
 */

/** GA4 recommended event name → our event name; other entries are ignored. */
const EVENT_NAMES = new Map([
  ['purchase', 'Purchase'],
  ['add_to_cart', 'AddToCart'],
  ['view_item', 'ViewContent'],
  ['generate_lead', 'Lead'],
  ['begin_checkout', 'InitiateCheckout'],
]);

interface Ecommerce {
  transaction_id?: string;
  value?: number | string;
  currency?: string;
  items?: { item_id?: string | number; quantity?: number }[];
}

/** One dataLayer entry as a pixeltrail event; `eventId` is the transaction id when given. */
export interface DataLayerEvent {
  name: string;
  properties: Record<string, unknown>;
  eventId?: string;
}

/** Maps one dataLayer entry, or returns undefined for entries that are not ours to track. */
export function mapEntry(entry: any): DataLayerEvent | undefined {
  if (!entry) return undefined;
  const gtag = entry[0] === 'event';
  const name = EVENT_NAMES.get(gtag ? entry[1] : entry.event);
  if (!name) return undefined;
  const data: Ecommerce = (gtag ? entry[2] : entry.ecommerce || entry) || {};
  const properties: Record<string, unknown> = {};
  if (data.value != null) properties.value = +data.value;
  if (data.currency) properties.currency = data.currency;
  const items = (data.items || []).filter((item) => item && item.item_id != null);
  if (items.length) {
    properties.content_ids = items.map((item) => String(item.item_id));
    properties.num_items = items.reduce((n, item) => n + (+item.quantity! || 1), 0);
  }
  return { name, properties, eventId: data.transaction_id };
}

/** Handles entries already in `w.dataLayer` (created if missing), then every later push. */
export function listenDataLayer(
  w: { dataLayer?: unknown[] },
  onEvent: (event: DataLayerEvent) => void,
): void {
  if (!w.dataLayer) w.dataLayer = [];
  const dataLayer = w.dataLayer;
  const handle = (entry: unknown) => {
    const event = mapEntry(entry);
    if (event) onEvent(event);
  };
  dataLayer.forEach(handle);
  const push = dataLayer.push;
  dataLayer.push = function (...entries) {
    const length = push.apply(this, entries);
    entries.forEach(handle);
    return length;
  };
}
