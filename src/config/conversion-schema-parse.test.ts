import { describe, expect, it } from 'vitest';
import { testSigner } from '../../test/fixtures/apple-postbacks.js';
import { decodeValue } from '../domain/conversion-schema.js';
import { parseConfig } from './config-parse.js';

const base = { admin_token: 'adm', environments: [{ id: 'env_ios', write_key: 'wk1' }] };

/** A typical SKAdNetwork 4 schema: bits 0–2 are events, bits 3–5 a revenue bucket. */
const SCHEMA = {
  currency: 'USD',
  fine: [
    { bit: 0, event: 'CompleteRegistration' },
    { bit: 1, event: 'AddToCart' },
    { bit: 2, event: 'Purchase' },
    { mask: 56, equals: 8, revenue: [0.01, 9.99] },
    { mask: 56, equals: 16, revenue: [10, 49.99] },
    { mask: 56, equals: 24, revenue: [50, 200] },
    { values: [60, 63], events: ['Subscribe'] },
  ],
  coarse: {
    low: { event: 'CompleteRegistration' },
    medium: { event: 'Purchase', revenue: [0.01, 20] },
    high: { events: ['Purchase'], revenue: [20, 100] },
  },
  coarse_by_window: { 2: { high: { event: 'Retained' } } },
};

function schemaOf(conversion_values: unknown) {
  const app = { app_id: '1', platform: 'ios', env_id: 'env_ios', conversion_values };
  const { config, errors } = parseConfig({ ...base, apps: [app] }, {});
  return { schema: config.apps[0]?.conversion_values ?? null, errors };
}

describe('conversion-value schema (issue 25)', () => {
  it('CV01 decodes fine values bit by bit, with the revenue bucket', () => {
    const { schema, errors } = schemaOf(SCHEMA);
    expect(errors).toEqual([]);
    // 0b010_101: registration + purchase, revenue bucket 2.
    const at = (fine_value: number) =>
      decodeValue(schema, { fine_value, coarse_value: null, sequence_index: 0 });
    expect(at(0b010101)).toEqual({
      source: 'fine',
      events: ['CompleteRegistration', 'Purchase'],
      revenue: { min: 10, max: 49.99 },
      unmapped: false,
    });
    expect(at(0b000010)).toMatchObject({ events: ['AddToCart'], revenue: null });
    // 61 = 0b111_101: the Subscribe range, the bits, and no revenue bucket (7 has none).
    expect(at(61).events).toEqual(['CompleteRegistration', 'Purchase', 'Subscribe']);
    expect(at(0)).toEqual({ source: 'fine', events: [], revenue: null, unmapped: true });
  });

  it('CV02 decodes coarse values, per conversion window where the schema says so', () => {
    const { schema } = schemaOf(SCHEMA);
    const at = (coarse_value: 'low' | 'medium' | 'high', sequence_index: number) =>
      decodeValue(schema, { fine_value: null, coarse_value, sequence_index });
    expect(at('medium', 0)).toEqual({
      source: 'coarse',
      events: ['Purchase'],
      revenue: { min: 0.01, max: 20 },
      unmapped: false,
    });
    expect(at('high', 1)).toMatchObject({ events: ['Purchase'], revenue: { min: 20, max: 100 } });
    expect(at('high', 2)).toMatchObject({ events: ['Retained'], revenue: null });
    expect(at('low', 2)).toMatchObject({ events: [], unmapped: true });
    expect(
      decodeValue(schema, { fine_value: null, coarse_value: null, sequence_index: 0 }),
    ).toEqual({ source: 'none', events: [], revenue: null, unmapped: false });
    expect(
      decodeValue(null, { fine_value: 5, coarse_value: null, sequence_index: 0 }).unmapped,
    ).toBe(true);
  });

  it('CV03 names every bad field by path', () => {
    const { errors } = schemaOf({
      currency: 'dollars',
      fine: [
        { value: 64, event: 'A' },
        { values: [9, 3], event: 'A' },
        { bit: 6, event: 'A' },
        { mask: 8, equals: 16, event: 'A' },
        { value: 1, bit: 1, event: 'A' },
        { value: 2 },
        { value: 3, revenue: [5, 1] },
        { value: 4, event: '', colour: 'red' },
      ],
      coarse: { max: { event: 'A' }, low: 'Purchase' },
      coarse_by_window: { 3: {} },
      extra: 1,
    });
    expect(errors.map((e) => e.field)).toEqual([
      'apps[0].conversion_values.extra',
      'apps[0].conversion_values.currency',
      'apps[0].conversion_values.fine[0].value',
      'apps[0].conversion_values.fine[1].values',
      'apps[0].conversion_values.fine[2].bit',
      'apps[0].conversion_values.fine[3].equals',
      'apps[0].conversion_values.fine[4].value',
      'apps[0].conversion_values.fine[5]',
      'apps[0].conversion_values.fine[6].revenue',
      'apps[0].conversion_values.fine[6]',
      'apps[0].conversion_values.fine[7].colour',
      'apps[0].conversion_values.fine[7].event',
      'apps[0].conversion_values.coarse.max',
      'apps[0].conversion_values.coarse.low',
      'apps[0].conversion_values.coarse_by_window.3',
    ]);
  });

  it('CV04 a fine value in two revenue ranges, or revenue without a currency, is refused', () => {
    const overlap = schemaOf({
      currency: 'USD',
      fine: [
        { values: [0, 10], revenue: [0, 1] },
        { bit: 3, revenue: [1, 2] },
      ],
    });
    expect(overlap.errors).toEqual([
      {
        field: 'apps[0].conversion_values.fine',
        message: 'fine value 8 falls in two revenue ranges (rules 0 and 1)',
      },
    ]);
    const noCurrency = schemaOf({ coarse: { high: { revenue: [1, 2] } } });
    expect(noCurrency.errors.map((e) => e.field)).toEqual(['apps[0].conversion_values.currency']);
  });
});

describe('apple_postbacks config', () => {
  it('AK01 test keys are read, checked to be P-256/P-192 keys, and may not pass for Apple ids', () => {
    const good = testSigner().publicKey;
    const ok = parseConfig(
      {
        ...base,
        apple_postbacks: {
          accept_development: true,
          test_keys: [{ id: 'ci', public_key: good }],
          unverified_kept_per_hour: 0,
        },
      },
      {},
    );
    expect(ok.errors).toEqual([]);
    expect(ok.config.apple_postbacks).toEqual({
      accept_development: true,
      test_keys: [{ id: 'ci', public_key: good }],
      unverified_kept_per_hour: 0,
    });
    expect(parseConfig(base, {}).config.apple_postbacks).toEqual({
      accept_development: false,
      test_keys: [],
      unverified_kept_per_hour: 30,
    });
    expect(
      parseConfig({ ...base, apple_postbacks: {} }, {}).config.apple_postbacks
        .unverified_kept_per_hour,
    ).toBe(30);
    const bad = parseConfig(
      {
        ...base,
        apple_postbacks: {
          accept_development: 'yes',
          test_keys: [
            { id: 'apple-cas-identifier/0', public_key: good },
            { id: 'x', public_key: 'bm90IGEga2V5' },
          ],
          extra: 1,
          unverified_kept_per_hour: -1,
        },
      },
      {},
    );
    expect(bad.errors.map((e) => e.field)).toEqual([
      'apple_postbacks.extra',
      'apple_postbacks.accept_development',
      'apple_postbacks.test_keys[0].id',
      'apple_postbacks.test_keys[1].public_key',
      'apple_postbacks.unverified_kept_per_hour',
    ]);
  });
});

describe('skan_campaigns config', () => {
  it('SC01 maps network campaigns to ours and names each bad field', () => {
    const app = (skan_campaigns: unknown) => ({
      ...base,
      apps: [{ app_id: '1', platform: 'ios', env_id: 'env_ios', skan_campaigns }],
    });
    const ok = parseConfig(
      app([{ ad_network_id: 'n.skadnetwork', source: 52, campaign_id: 'c1' }]),
      {},
    );
    expect(ok.errors).toEqual([]);
    expect(ok.config.apps[0].skan_campaigns).toEqual([
      { ad_network_id: 'n.skadnetwork', source: '52', campaign_id: 'c1' },
    ]);
    const bad = parseConfig(
      app([{ source: '52391' }, { source: 'ab', campaign_id: 'c', x: 1 }]),
      {},
    );
    expect(bad.errors.map((e) => e.field)).toEqual([
      'apps[0].skan_campaigns[0].source',
      'apps[0].skan_campaigns[0].campaign_id',
      'apps[0].skan_campaigns[1].x',
      'apps[0].skan_campaigns[1].source',
    ]);
    expect(parseConfig(app({}), {}).errors.map((e) => e.field)).toEqual(['apps[0].skan_campaigns']);
  });
});
