import { describe, expect, it } from 'vitest';
import { parseRules, urlMatchesGlob } from './trigger-rules.js';

describe('trigger rules', () => {
  it('TG01 the three trigger kinds are accepted, ids default to the position, currency upper-cased', () => {
    const r = parseRules([
      {
        event_name: 'Purchase',
        trigger: { type: 'url', pattern: '/thank-you*' },
        value_path: 'ecommerce.value',
        currency: 'eur',
        event_id_path: 'ecommerce.transaction_id',
      },
      { id: 'signup', event_name: 'Lead', trigger: { type: 'click', selector: '#signup' } },
      { event_name: 'Purchase', trigger: { type: 'datalayer', event: 'purchase' } },
    ]);
    expect(r).toEqual({
      ok: true,
      rules: [
        {
          id: 'rule-1',
          event_name: 'Purchase',
          trigger: { type: 'url', pattern: '/thank-you*' },
          value_path: 'ecommerce.value',
          currency: 'EUR',
          event_id_path: 'ecommerce.transaction_id',
        },
        { id: 'signup', event_name: 'Lead', trigger: { type: 'click', selector: '#signup' } },
        { id: 'rule-3', event_name: 'Purchase', trigger: { type: 'datalayer', event: 'purchase' } },
      ],
    });
  });

  it('TG02 every bad field is named by its path', () => {
    const r = parseRules([
      { event_name: '', trigger: { type: 'url' } },
      { event_name: 'Lead', trigger: { type: 'hover', selector: 'a' }, value_path: 'a..b' },
      { id: 'x', event_name: 'A', trigger: { type: 'click', selector: 'a' }, currency: 'euro' },
      'nope',
    ]);
    expect(r.ok ? [] : r.errors.map((e) => e.field)).toEqual([
      'rules.0.event_name',
      'rules.0.trigger.pattern',
      'rules.1.trigger.type',
      'rules.1.value_path',
      'rules.2.currency',
      'rules.3',
    ]);
  });

  it('TG03 duplicate ids and non-lists are refused', () => {
    const rule = { id: 'a', event_name: 'Lead', trigger: { type: 'click', selector: 'a' } };
    expect(parseRules([rule, rule])).toEqual({
      ok: false,
      errors: [{ field: 'rules.1.id', message: 'duplicates id a' }],
    });
    expect(parseRules({})).toMatchObject({ ok: false, errors: [{ field: 'rules' }] });
  });

  it.each([
    ['/thank-you*', '/thank-you', true],
    ['/thank-you*', '/thank-you?order=7', true],
    ['/thank-you*', '/shop/thank-you', false],
    ['*/done', '/a/b/done', true],
    ['/a.b', '/axb', false],
    ['https://shop.example/*', 'https://shop.example/x', true],
  ])('TG04 glob %s on %s: %s', (pattern, url, want) => {
    expect(urlMatchesGlob(pattern, url)).toBe(want);
  });
});
