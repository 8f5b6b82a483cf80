import { describe, expect, it } from 'vitest';
import {
  evaluate,
  longestWindowS,
  type PersonHistory,
  parseRules,
  type RuleGroup,
  rulesToJson,
  usesTouches,
} from './audience-rules.js';

const H = 3600;
const D = 86_400;
const T0 = 1_763_900_000;

function rules(raw: unknown): RuleGroup {
  const r = parseRules(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.rules;
}

const ev = (event_name: string, time: number, properties: Record<string, unknown> = {}) => ({
  event_name,
  time,
  properties,
});

const cartAbandoners = rules({
  all: [{ event: 'AddToCart', within: '7d' }],
  none: [{ event: 'Purchase', within: '7d' }],
});

describe('audience rules: parsing', () => {
  it('R01 accepts the contract example and writes it back the same', () => {
    const raw = {
      all: [
        {
          event: 'PageView',
          within: '30d',
          where: { url: { matches: '/products/*' }, value: { '>': 100 } },
        },
      ],
      any: [
        { touch: 'impression', campaign_id: 'c1', within: '12h' },
        { none: [{ event: 'Lead', within: '1d' }] },
      ],
    };
    expect(rulesToJson(rules(raw))).toEqual(raw);
  });

  it('R02 names unknown fields, unknown operators and bad durations with their paths', () => {
    const r = parseRules({
      all: [
        { event: 'PageView', within: '7 days', colour: 'red' },
        { event: 'Purchase', within: '1d', where: { value: { '~': 3 }, 'bad name': 1 } },
        { touch: 'hover', within: '1d' },
      ],
      sometimes: [],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const fields = r.errors.map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'rules.all[0].colour',
        'rules.all[0].within',
        'rules.all[1].where.value.~',
        'rules.all[1].where.bad name',
        'rules.all[2].touch',
        'rules.sometimes',
      ]),
    );
    expect(r.errors.find((e) => e.field === 'rules.all[1].where.value.~')?.message).toMatch(
      /unknown operator "~"/,
    );
  });

  it('R03 refuses an empty group, an empty list and a missing window', () => {
    for (const raw of [{}, { all: [] }, { all: [{ event: 'X' }] }, { any: [{}] }, 'all']) {
      const r = parseRules(raw);
      expect(r.ok, JSON.stringify(raw)).toBe(false);
    }
  });

  it('R05 only rules with a touch condition care about new touches', () => {
    expect(usesTouches(cartAbandoners)).toBe(false);
    expect(usesTouches(rules({ any: [{ none: [{ touch: 'click', within: '1d' }] }] }))).toBe(true);
  });

  it('R04 the longest window bounds the history to read', () => {
    expect(longestWindowS(cartAbandoners)).toBe(7 * D);
    expect(
      longestWindowS(
        rules({
          any: [{ all: [{ touch: 'click', within: '30d' }] }, { event: 'A', within: '1h' }],
        }),
      ),
    ).toBe(30 * D);
  });
});

describe('audience rules: enter, stay, leave as time passes', () => {
  const h: PersonHistory = { events: [ev('AddToCart', T0)], touches: [] };

  it('E01 enters at the add to cart, stays inside 7 d, leaves when it is 7 d old', () => {
    expect(evaluate(cartAbandoners, { events: [], touches: [] }, T0).member).toBe(false);
    const now = evaluate(cartAbandoners, h, T0);
    expect(now).toEqual({ member: true, changes_at: T0 + 7 * D });
    expect(evaluate(cartAbandoners, h, T0 + 7 * D - 1).member).toBe(true);
    expect(evaluate(cartAbandoners, h, T0 + 7 * D)).toEqual({ member: false, changes_at: null });
  });

  it('E02 a purchase takes the person out, and back in once the purchase is 7 d old', () => {
    const bought: PersonHistory = {
      events: [ev('AddToCart', T0), ev('Purchase', T0 + H), ev('AddToCart', T0 + 6 * D)],
      touches: [],
    };
    // Nothing can change before the second add to cart, dated 6 d on.
    expect(evaluate(cartAbandoners, bought, T0 + 2 * H)).toEqual({
      member: false,
      changes_at: T0 + 6 * D,
    });
    expect(evaluate(cartAbandoners, bought, T0 + 6 * D)).toEqual({
      member: false,
      changes_at: T0 + H + 7 * D,
    });
    expect(evaluate(cartAbandoners, bought, T0 + 7 * D + H).member).toBe(true);
  });

  it('E03 a future-dated event counts from its own time', () => {
    const later: PersonHistory = { events: [ev('AddToCart', T0 + H)], touches: [] };
    expect(evaluate(cartAbandoners, later, T0)).toEqual({ member: false, changes_at: T0 + H });
  });
});

describe('audience rules: AND / OR / NOT and filters', () => {
  const productViewers = rules({
    all: [{ event: 'PageView', within: '30d', where: { url: '/products/*' } }],
  });

  it('F01 a url glob matches the path of a full URL', () => {
    const h = (url: string) => ({ events: [ev('PageView', T0, { url })], touches: [] });
    expect(evaluate(productViewers, h('https://shop.example/products/42?x=1'), T0).member).toBe(
      true,
    );
    expect(evaluate(productViewers, h('/products/9'), T0).member).toBe(true);
    expect(evaluate(productViewers, h('https://shop.example/cart'), T0).member).toBe(false);
  });

  it('F02 value > 100 and content_ids contains sku1', () => {
    const big = rules({
      all: [
        {
          event: 'Purchase',
          within: '30d',
          where: { value: { '>': 100 }, content_ids: { contains: 'sku1' } },
        },
      ],
    });
    const p = (value: number, content_ids: string[]) => ({
      events: [ev('Purchase', T0, { value, content_ids })],
      touches: [],
    });
    expect(evaluate(big, p(150, ['sku1', 'sku2']), T0).member).toBe(true);
    expect(evaluate(big, p(100, ['sku1']), T0).member).toBe(false);
    expect(evaluate(big, p(150, ['sku2']), T0).member).toBe(false);
  });

  it('F03 saw campaign c1 and did not convert', () => {
    const sawNoConv = rules({
      all: [{ touch: 'impression', campaign_id: 'c1', within: '30d' }],
      none: [{ event: 'Purchase', within: '30d' }],
    });
    const saw = { kind: 'impression' as const, campaign_id: 'c1', time: T0 };
    const other = { kind: 'impression' as const, campaign_id: 'c2', time: T0 };
    expect(evaluate(sawNoConv, { events: [], touches: [saw] }, T0 + H).member).toBe(true);
    expect(evaluate(sawNoConv, { events: [], touches: [other] }, T0 + H).member).toBe(false);
    expect(
      evaluate(sawNoConv, { events: [ev('Purchase', T0 + 60)], touches: [saw] }, T0 + H).member,
    ).toBe(false);
    // A click is not an impression.
    expect(
      evaluate(sawNoConv, { events: [], touches: [{ ...saw, kind: 'click' }] }, T0 + H).member,
    ).toBe(false);
  });

  it('F04 any is OR, nested none is NOT, all is AND', () => {
    const r = rules({
      all: [{ event: 'PageView', within: '1d' }],
      any: [{ event: 'Lead', within: '1d' }, { none: [{ event: 'Signup', within: '1d' }] }],
    });
    const at = (...names: string[]) =>
      evaluate(r, { events: names.map((n) => ev(n, T0)), touches: [] }, T0 + 1).member;
    expect(at('PageView')).toBe(true); // no Signup → the NOT branch holds
    expect(at('PageView', 'Signup')).toBe(false); // Signup and no Lead
    expect(at('PageView', 'Signup', 'Lead')).toBe(true); // Lead satisfies any
    expect(at('Lead')).toBe(false); // all fails without PageView
  });

  it('F05 changes_at is the earliest flip of any condition', () => {
    const r = rules({
      any: [
        { event: 'A', within: '1d' },
        { event: 'B', within: '2d' },
      ],
    });
    const h = { events: [ev('A', T0), ev('B', T0)], touches: [] };
    expect(evaluate(r, h, T0 + 1)).toEqual({ member: true, changes_at: T0 + D });
    expect(evaluate(r, h, T0 + D)).toEqual({ member: true, changes_at: T0 + 2 * D });
  });
});
