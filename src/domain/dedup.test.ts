import { describe, expect, it } from 'vitest';
import { DEDUP_WINDOW_S, dedupStaleBefore, mergeDuplicate } from './dedup.js';
import type { TrackedEvent } from './event.js';

const base: TrackedEvent = {
  env_id: 'env',
  event_name: 'Purchase',
  event_id: 'ord-1',
  event_time: 1_000,
  source: 'server',
  user: { ip: '203.0.113.9', email_sha256: 'e'.repeat(64) },
  properties: { value: 10, currency: 'EUR' },
  consent: { ads: null, analytics: null },
  warnings: [],
};

describe('deduplication', () => {
  it('D02 a copy within 48 h is a duplicate, one after is not', () => {
    // The store keeps a key whose first_seen is not below the cut-off.
    expect(0 < dedupStaleBefore(DEDUP_WINDOW_S)).toBe(false);
    expect(0 < dedupStaleBefore(DEDUP_WINDOW_S + 1)).toBe(true);
  });

  it('D03 the first copy wins where both have a field', () => {
    const later = { ...base, source: 'tag' as const, properties: { value: 99, currency: 'USD' } };
    const { merged, changed } = mergeDuplicate(base, later);
    expect(merged.properties).toEqual({ value: 10, currency: 'EUR' });
    expect(merged.source).toBe('server');
    // The tag copy adds only what it is by nature: a website conversion (D08).
    expect(merged.action_source).toBe('website');
    expect(changed).toBe(true);
    const sameSide = mergeDuplicate(base, { ...later, source: 'server' as const });
    expect(sameSide.changed).toBe(false);
  });

  it('D04 a later copy fills the fields the first lacked', () => {
    const later = {
      ...base,
      user: { anonymous_id: 'anon-1', ip: '198.51.100.1' },
      properties: { content_ids: ['sku1'] },
      consent: { ads: true, analytics: null },
    };
    const { merged, changed } = mergeDuplicate(base, later);
    expect(changed).toBe(true);
    expect(merged.user).toEqual({
      ip: '203.0.113.9',
      email_sha256: 'e'.repeat(64),
      anonymous_id: 'anon-1',
    });
    expect(merged.properties.content_ids).toEqual(['sku1']);
    expect(merged.consent.ads).toBe(true);
  });

  it('D05 a later copy that denies consent wins over the first copy; a later grant does not', () => {
    const granted = { ...base, consent: { ads: true, analytics: true, signals: ['stated'] } };
    const gpc = { ...base, consent: { ads: false, analytics: null, signals: ['gpc'] } };
    const denied = mergeDuplicate(granted, gpc);
    expect(denied.changed).toBe(true);
    expect(denied.merged.consent).toEqual({
      ads: false,
      analytics: true,
      signals: ['stated', 'gpc'],
    });
    const regrant = mergeDuplicate(denied.merged, granted);
    expect(regrant.merged.consent.ads).toBe(false);
    expect(regrant.changed).toBe(false);
  });

  it('D06 addedKeys names the user keys the later copy brought, and only those', () => {
    const later = { ...base, user: { ip: '198.51.100.1', fbp: 'fb.1.1.1', user_id: 'u1' } };
    expect(mergeDuplicate(base, later).addedKeys.sort()).toEqual(['fbp', 'user_id']);
    expect(mergeDuplicate(base, base).addedKeys).toEqual([]);
  });

  it('D07 a first copy stating no action_source takes the one a later copy states', () => {
    const crm: TrackedEvent = { ...base, action_source: 'phone_call' };
    const { merged, changed } = mergeDuplicate(base, crm);
    expect(merged.action_source).toBe('phone_call');
    expect(changed).toBe(true);
    // The old place, properties.action_source, counts as stated too.
    const legacy = { ...base, properties: { ...base.properties, action_source: 'chat' } };
    expect(mergeDuplicate(base, legacy).merged.action_source).toBe('chat');
  });

  it('D08 a later tag (browser) copy states "website" by nature', () => {
    const browser: TrackedEvent = { ...base, source: 'tag' };
    const { merged, changed } = mergeDuplicate(base, browser);
    expect(merged.action_source).toBe('website');
    expect(changed).toBe(true);
  });

  it('D09 a first copy that states one, or a first tag copy, keeps its own', () => {
    const store: TrackedEvent = { ...base, action_source: 'physical_store' };
    const web: TrackedEvent = { ...base, action_source: 'website' };
    expect(mergeDuplicate(store, web).merged.action_source).toBe('physical_store');
    expect(mergeDuplicate(store, web).changed).toBe(false);
    const legacy = { ...base, properties: { ...base.properties, action_source: 'chat' } };
    expect(mergeDuplicate(legacy, web).merged.action_source).toBeUndefined();
    const browser: TrackedEvent = { ...base, source: 'tag' };
    const first = mergeDuplicate(browser, store);
    expect(first.merged.action_source).toBeUndefined();
    expect(first.changed).toBe(false);
  });

  it('D10 nothing stated on either side leaves action_source unset and unchanged', () => {
    const { merged, changed } = mergeDuplicate(base, { ...base });
    expect(merged).not.toHaveProperty('action_source');
    expect(changed).toBe(false);
  });
});
