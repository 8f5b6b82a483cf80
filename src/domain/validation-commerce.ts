import type { ContentItem } from './event.js';
import { isCurrencyCode } from './money.js';
import type { FieldError } from './validation-error.js';
import { isObj, optString } from './validation-fields.js';

// What a purchase carries: value, currency, content ids and line items.

/** Most content ids or line items one event may list. */
const MAX_CONTENT_IDS = 200;

export function parseValue(v: unknown, errors: FieldError[]): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  // Numeric strings are common from data layers ("49.90"); anything else is an error.
  const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    errors.push({ field: 'properties.value', message: 'must be a number' });
    return undefined;
  }
  if (n < 0) {
    errors.push({ field: 'properties.value', message: 'must not be negative' });
    return undefined;
  }
  return n;
}

export function parseCurrency(v: unknown, errors: FieldError[]): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const code = typeof v === 'string' ? v.trim().toUpperCase() : '';
  if (!isCurrencyCode(code)) {
    errors.push({ field: 'properties.currency', message: 'must be an ISO 4217 currency code' });
    return undefined;
  }
  return code;
}

export function parseContentIds(v: unknown, errors: FieldError[]): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (
    list.length > MAX_CONTENT_IDS ||
    list.some((x) => typeof x !== 'string' && typeof x !== 'number')
  ) {
    errors.push({
      field: 'properties.content_ids',
      message: `must be a list of at most ${MAX_CONTENT_IDS} strings`,
    });
    return undefined;
  }
  return list.map(String);
}

export function parseCount(v: unknown): number | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null;
}

export function parsePrice(v: unknown): number | undefined | null {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * `contents`: the order's products as Meta's `custom_data.contents` has them (`id`,
 * `quantity`, `item_price`); each bad field is named by its index.
 */
export function parseContents(v: unknown, errors: FieldError[]): ContentItem[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > MAX_CONTENT_IDS) {
    errors.push({
      field: 'properties.contents',
      message: `must be a list of at most ${MAX_CONTENT_IDS} products`,
    });
    return undefined;
  }
  const items: ContentItem[] = [];
  v.forEach((raw: unknown, i) => {
    const path = `properties.contents[${i}]`;
    if (!isObj(raw)) {
      errors.push({ field: path, message: 'must be an object with an id' });
      return;
    }
    const id = optString(raw, 'id', `${path}.id`, errors);
    if (id === undefined) {
      if (raw.id === undefined || raw.id === null || raw.id === '')
        errors.push({ field: `${path}.id`, message: 'is required' });
      return;
    }
    const quantity = parseCount(raw.quantity);
    const price = parsePrice(raw.item_price);
    if (quantity === null)
      errors.push({ field: `${path}.quantity`, message: 'must be a positive integer' });
    if (price === null)
      errors.push({ field: `${path}.item_price`, message: 'must be a number, not negative' });
    items.push({
      id,
      ...(typeof quantity === 'number' ? { quantity } : {}),
      ...(typeof price === 'number' ? { item_price: price } : {}),
    });
  });
  return items;
}
