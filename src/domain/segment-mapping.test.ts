import { describe, expect, it } from 'vitest';
import { mapSegmentMessage } from './segment-mapping.js';

const orderCompleted = {
  type: 'track',
  event: 'Order Completed',
  messageId: 'msg-1',
  anonymousId: 'anon-1',
  userId: 'u42',
  timestamp: '2026-11-29T10:00:00.000Z',
  context: {
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0 test',
    traits: { email: 'a@b.com' },
    page: { url: 'https://shop.example/thanks', referrer: 'https://ads.example/' },
  },
  properties: {
    order_id: 'ord-1',
    revenue: 49.9,
    currency: 'EUR',
    products: [{ product_id: 'sku1', quantity: 2 }, { sku: 'sku2' }],
  },
};

describe('Segment message mapping', () => {
  it('SG01 Order Completed becomes Purchase with messageId, identity, value and products', () => {
    const mapped = mapSegmentMessage(orderCompleted);
    expect(mapped.ok && mapped.sources()['properties.value']).toBe('properties.revenue');
    expect(mapped.ok && mapped.sources()['user.email']).toBe('context.traits.email');
    expect(mapped).toEqual({
      ok: true,
      sources: expect.any(Function),
      event: {
        event_name: 'Purchase',
        event_id: 'msg-1',
        event_time: '2026-11-29T10:00:00.000Z',
        user: {
          anonymous_id: 'anon-1',
          user_id: 'u42',
          email: 'a@b.com',
          ip: '203.0.113.9',
          user_agent: 'Mozilla/5.0 test',
        },
        properties: {
          order_id: 'ord-1',
          revenue: 49.9,
          value: 49.9,
          currency: 'EUR',
          content_ids: ['sku1', 'sku2'],
          num_items: 3,
          url: 'https://shop.example/thanks',
          referrer: 'https://ads.example/',
        },
      },
    });
  });

  it.each([
    ['Product Added', 'AddToCart'],
    ['Product Viewed', 'ViewContent'],
    ['Checkout Started', 'InitiateCheckout'],
    ['Lead Generated', 'Lead'],
    ['Signed Up', 'CompleteRegistration'],
    ['Newsletter Opened', 'Newsletter Opened'],
  ])('SG02 track %s is named %s', (segment, ours) => {
    const r = mapSegmentMessage({ ...orderCompleted, event: segment });
    expect(r.ok && r.event.event_name).toBe(ours);
  });

  it('SG03 value wins over revenue, revenue over total', () => {
    const props = { value: 5, revenue: 4, total: 3 };
    const r1 = mapSegmentMessage({ ...orderCompleted, properties: props });
    const r2 = mapSegmentMessage({ ...orderCompleted, properties: { total: 3 } });
    expect(r1.ok && (r1.event.properties as { value: number }).value).toBe(5);
    expect(r2.ok && (r2.event.properties as { value: number }).value).toBe(3);
  });

  it('SG04 identify carries traits.email and becomes Identify; page and screen keep their name', () => {
    const id = mapSegmentMessage(
      { anonymousId: 'a1', userId: 'u1', traits: { email: 'x@y.z', phone: '+15550100' } },
      'identify',
    );
    expect(id).toMatchObject({
      ok: true,
      event: {
        event_name: 'Identify',
        user: { anonymous_id: 'a1', user_id: 'u1', email: 'x@y.z', phone: '+15550100' },
      },
    });
    const page = mapSegmentMessage({ type: 'page', anonymousId: 'a1', name: 'Home' });
    expect(page).toMatchObject({ ok: true, event: { event_name: 'PageView' } });
    expect(page.ok && (page.event.properties as { name: string }).name).toBe('Home');
    const screen = mapSegmentMessage({ type: 'screen', userId: 'u1', name: 'Cart' });
    expect(screen).toMatchObject({ ok: true, event: { event_name: 'ScreenView' } });
  });

  it('SG05 alias links previousId (as the anonymous id) to userId', () => {
    const r = mapSegmentMessage({ previousId: 'anon-9', userId: 'u9' }, 'alias');
    expect(r).toMatchObject({
      ok: true,
      event: { event_name: 'Alias', user: { anonymous_id: 'anon-9', user_id: 'u9' } },
    });
  });

  it('SG06 no userId nor anonymousId, and a track without event, are named', () => {
    expect(mapSegmentMessage({ type: 'track', event: 'X' })).toEqual({
      ok: false,
      errors: [{ field: 'userId', message: 'userId or anonymousId is required' }],
    });
    expect(mapSegmentMessage({ type: 'track', userId: 'u' })).toEqual({
      ok: false,
      errors: [{ field: 'event', message: 'is required for a track call' }],
    });
    expect(mapSegmentMessage({ type: 'nope', userId: 'u' })).toMatchObject({
      ok: false,
      errors: [{ field: 'type' }],
    });
    expect(mapSegmentMessage('text')).toMatchObject({ ok: false, errors: [{ field: '' }] });
  });

  it('SG07 Segment consent: categoryPreferences come out as the category choices', () => {
    const r = mapSegmentMessage({
      ...orderCompleted,
      context: {
        consent: { categoryPreferences: { Advertising: false, Analytics: true, Bad: 'yes' } },
      },
    });
    expect(r.ok && r.consentChoices).toEqual({ Advertising: false, Analytics: true });
    expect(r.ok && r.event.consent).toBeUndefined();
    expect(mapSegmentMessage(orderCompleted)).toMatchObject({
      ok: true,
      consentChoices: undefined,
    });
  });

  it('SG08 mobile: advertisingId is the IDFA on iOS and the GAID on Android; lifecycle events map', () => {
    const ios = mapSegmentMessage({
      type: 'track',
      event: 'Application Installed',
      anonymousId: 'a',
      context: { device: { type: 'ios', advertisingId: 'IDFA-1', id: 'IDFV-1' } },
    });
    expect(ios).toMatchObject({
      ok: true,
      event: { event_name: 'app_install', user: { idfa: 'IDFA-1', idfv: 'IDFV-1' } },
    });
    const android = mapSegmentMessage({
      type: 'track',
      event: 'Application Opened',
      anonymousId: 'a',
      context: { os: { name: 'Android' }, device: { advertisingId: 'G-1', id: 'inst-1' } },
    });
    expect(android).toMatchObject({
      ok: true,
      event: { event_name: 'app_open', user: { gaid: 'G-1', app_instance_id: 'inst-1' } },
    });
    const limited = mapSegmentMessage({
      type: 'track',
      event: 'X',
      anonymousId: 'a',
      context: { device: { type: 'ios', advertisingId: 'IDFA-1', adTrackingEnabled: false } },
    });
    expect(limited.ok && (limited.event.user as { idfa?: string }).idfa).toBeUndefined();
  });

  it('SG09 sources name the field each value was read from, as the mapping reads it', () => {
    const sources = (msg: Record<string, unknown>) => {
      const r = mapSegmentMessage({ type: 'track', event: 'X', userId: 'u', ...msg });
      return r.ok ? r.sources() : {};
    };
    expect(sources({ properties: { content_ids: [{}] } })['properties.content_ids']).toBe(
      'properties.content_ids',
    );
    expect(
      sources({ properties: { products: [{ name: 'no id' }], sku: 'S1' } })[
        'properties.content_ids'
      ],
    ).toBe('properties.sku');
    expect(sources({ timestamp: '', originalTimestamp: 'x' }).event_time).toBe('originalTimestamp');
    expect(
      sources({ traits: { email: '' }, context: { traits: { email: 'a@b' } } })['user.email'],
    ).toBe('properties.email');
    expect(sources({ context: { traits: { email: 'a@b' } } })['user.email']).toBe(
      'context.traits.email',
    );
  });

  it("SG10 mobile SDKs: context.os.name, the IDFA plugin's trackingStatus and the bundle id come along", () => {
    const r = mapSegmentMessage({
      type: 'track',
      event: 'Application Installed',
      anonymousId: 'a',
      context: {
        os: { name: 'iOS', version: '17.4' },
        app: { namespace: 'com.example.shop', version: '3.1' },
        device: { advertisingId: 'IDFV-1', adTrackingEnabled: false, trackingStatus: 'denied' },
      },
    });
    expect(r.ok && r.event).toMatchObject({
      event_name: 'app_install',
      app_id: 'com.example.shop',
      user: { os: 'iOS', att_status: 'denied' },
    });
    expect(r.ok && (r.event.user as { idfa?: string }).idfa).toBeUndefined();
    expect(r.ok && r.sources()).toMatchObject({
      'user.os': 'context.os.name',
      'user.att_status': 'context.device.trackingStatus',
      app_id: 'context.app.namespace',
    });
  });

  it('SG11 an OS name or ATT status we cannot read is left out, never refusing the message', () => {
    const r = mapSegmentMessage({
      type: 'track',
      event: 'X',
      anonymousId: 'a',
      context: { os: { name: 'Windows 10 (Build 19045)' }, device: { trackingStatus: 'unknown' } },
    });
    expect(r.ok && r.event.user).toEqual({ anonymous_id: 'a' });
  });
});
