import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-parse.js';

const minimal = {
  admin_token: 'adm',
  environments: [
    {
      id: 'env_demo',
      write_key: 'wk',
      destinations: [{ id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    },
  ],
};

describe('config parsing', () => {
  it('K01 fills the documented defaults', () => {
    const { config, errors } = parseConfig(minimal, {});
    expect(errors).toEqual([]);
    const d = config.environments[0].destinations[0];
    expect(d.click_window_ms).toBe(7 * 86_400_000);
    expect(d.view_window_ms).toBe(86_400_000);
    expect(d.events).toEqual(['Purchase']);
    expect(config.port).toBe(8080);
    expect(config.touch_retention_ms).toBe(90 * 86_400_000);
    expect(config.event_retention_ms).toBe(400 * 86_400_000);
    expect(config.environments[0].click_secret).toBe('wk');
  });

  it('K02 names every bad field by path', () => {
    const { errors } = parseConfig(
      {
        environments: [
          {
            id: 'bad id!',
            write_key: 'wk',
            destinations: [
              { id: 'd', type: 'fax' },
              { id: 'w', type: 'webhook', url: 'ftp://x', click_window: '7 days', colour: 'red' },
            ],
          },
        ],
      },
      {},
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'admin_token',
      'environments[0].destinations[0].type',
      'environments[0].destinations[1].click_window',
      'environments[0].destinations[1].colour',
      'environments[0].destinations[1].url',
      'environments[0].id',
    ]);
  });

  it('K04 a secret may be read from the environment with env:NAME', () => {
    const raw = (secret: string) => ({
      admin_token: 'a',
      environments: [
        {
          id: 'e',
          write_key: 'k',
          destinations: [{ id: 'w', type: 'webhook', url: 'http://x', secret }],
        },
      ],
    });
    const ok = parseConfig(raw('env:HOOK_SECRET'), { secrets: { HOOK_SECRET: 's3' } });
    expect(ok.config.environments[0].destinations[0].settings.secret).toBe('s3');
    const missing = parseConfig(raw('env:NOPE'), { secrets: {} });
    expect(missing.errors).toEqual([
      {
        field: 'environments[0].destinations[0].secret',
        message: 'environment variable NOPE is not set',
      },
    ]);
  });

  it('MW01 merge_window: 30s by default, 0 (number or text) sends at once, bad values named', () => {
    const dests = (over: Array<Record<string, unknown>>) =>
      parseConfig(
        {
          ...minimal,
          environments: [
            {
              ...minimal.environments[0],
              destinations: over.map((o, i) => ({
                ...minimal.environments[0].destinations[0],
                id: `d${i}`,
                ...o,
              })),
            },
          ],
        },
        {},
      );
    const ok = dests([{}, { merge_window: 0 }, { merge_window: '0' }, { merge_window: '2m' }]);
    expect(ok.errors).toEqual([]);
    expect(ok.config.environments[0].destinations.map((d) => d.merge_window_ms)).toEqual([
      30_000, 0, 0, 120_000,
    ]);
    const bad = dests([{ merge_window: 'soon' }, { merge_window: '3d' }, { merge_window: 5 }]);
    expect(bad.errors.map((e) => e.field)).toEqual([
      'environments[0].destinations[0].merge_window',
      'environments[0].destinations[1].merge_window',
      'environments[0].destinations[2].merge_window',
    ]);
    expect(bad.errors[1].message).toMatch(/at most 48h/);
  });

  it('PW01 probabilistic windows: 1d by default, kept as written, bad values named', () => {
    const parse = (o: Record<string, unknown>) =>
      parseConfig(
        {
          ...minimal,
          environments: [
            {
              ...minimal.environments[0],
              destinations: [{ ...minimal.environments[0].destinations[0], ...o }],
            },
          ],
        },
        {},
      );
    const dflt = parse({}).config.environments[0].destinations[0];
    expect([dflt.probabilistic_click_window_ms, dflt.probabilistic_view_window_ms]).toEqual([
      86_400_000, 86_400_000,
    ]);
    // Longer than the click window: kept as written; attribution clamps it and says so.
    const long = parse({ click_window: '12h', probabilistic_click_window: '3d' });
    expect(long.errors).toEqual([]);
    expect(long.config.environments[0].destinations[0].probabilistic_click_window_ms).toBe(
      3 * 86_400_000,
    );
    const bad = parse({ probabilistic_click_window: 'soon', probabilistic_view_window: 3 });
    expect(bad.errors.map((e) => e.field)).toEqual([
      'environments[0].destinations[0].probabilistic_click_window',
      'environments[0].destinations[0].probabilistic_view_window',
    ]);
  });

  it('K03 the environment overrides the file for port and data folder', () => {
    const { config } = parseConfig({ ...minimal, port: 1 }, { port: 9090, data_dir: '/tmp/x' });
    expect(config.port).toBe(9090);
    expect(config.data_dir).toBe('/tmp/x');
  });

  it('K05 a delivery lease shorter than a destination timeout is refused', () => {
    const { errors } = parseConfig({ ...minimal, delivery_lease: '5s' }, {});
    expect(errors).toEqual([
      { field: 'delivery_lease', message: 'must be longer than every destination timeout' },
    ]);
  });
  it('K06 consent_categories: defaults, a list of its own, and a bad value named by path', () => {
    const env = (extra: Record<string, unknown>) => ({
      ...minimal,
      environments: [{ ...minimal.environments[0], ...extra }],
    });
    expect(parseConfig(minimal, {}).config.environments[0].consent_categories).toEqual({
      ads: ['Advertising', 'Advertisement', 'Marketing'],
      analytics: ['Analytics'],
    });
    const own = parseConfig(env({ consent_categories: { ads: ['C0004'] } }), {});
    expect(own.config.environments[0].consent_categories).toEqual({
      ads: ['C0004'],
      analytics: ['Analytics'],
    });
    expect(parseConfig(env({ consent_categories: { ads: 'C0004' } }), {}).errors).toEqual([
      { field: 'environments[0].consent_categories.ads', message: 'must be a list of strings' },
    ]);
  });

  it('K07 secrets_key_previous: one key or a list, each a real key, and only beside secrets_key', () => {
    const KEY = 'k'.repeat(44);
    const OLD = 'o'.repeat(44);
    const parse = (extra: Record<string, unknown>, env = {}) =>
      parseConfig({ ...minimal, ...extra }, env);
    expect(parse({ secrets_key: KEY }).config.secrets_key_previous).toEqual([]);
    expect(parse({ secrets_key: KEY, secrets_key_previous: OLD }).config).toMatchObject({
      secrets_key: KEY,
      secrets_key_previous: [OLD],
    });
    expect(
      parse({}, { secrets_key: KEY, secrets_key_previous: [OLD, 'p'.repeat(40)] }).config
        .secrets_key_previous,
    ).toEqual([OLD, 'p'.repeat(40)]);
    expect(parse({ secrets_key: KEY, secrets_key_previous: [OLD, 'short'] }).errors).toEqual([
      { field: 'secrets_key_previous[1]', message: 'must be at least 32 characters' },
    ]);
    expect(parse({ secrets_key: KEY, secrets_key_previous: 7 }).errors).toEqual([
      { field: 'secrets_key_previous', message: 'must be a key or a list of keys' },
    ]);
    expect(parse({ secrets_key_previous: [OLD] }).errors).toEqual([
      {
        field: 'secrets_key_previous',
        message: 'needs secrets_key, the key secrets are sealed with now',
      },
    ]);
  });

  it('K08 body_timeout (30s by default) and max_connections (null: from the file limit); bad values named', () => {
    const { config } = parseConfig(minimal, {});
    expect(config.body_timeout_ms).toBe(30_000);
    expect(config.max_connections).toBeNull();
    const set = parseConfig({ ...minimal, body_timeout: '10s', max_connections: 500 }, {});
    expect([set.config.body_timeout_ms, set.config.max_connections]).toEqual([10_000, 500]);
    const bad = parseConfig({ ...minimal, body_timeout: '0s', max_connections: 0 }, {});
    expect(bad.errors.map((e) => e.field)).toEqual(['body_timeout', 'max_connections']);
    expect(parseConfig({ ...minimal, body_timeout: 'soon' }, {}).errors[0].field).toBe(
      'body_timeout',
    );
  });

  it('K20 reporting_currency per environment and dated fx_rates, each bad field named', () => {
    const ok = parseConfig(
      {
        ...minimal,
        environments: [{ ...minimal.environments[0], reporting_currency: 'eur' }],
        fx_rates: [{ date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.92 }],
      },
      {},
    );
    expect(ok.errors).toEqual([]);
    expect(ok.config.environments[0].reporting_currency).toBe('EUR');
    expect(ok.config.fx_rates).toEqual([
      { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.92 },
    ]);
    expect(parseConfig(minimal, {}).config.environments[0].reporting_currency).toBeNull();
    const bad = parseConfig(
      {
        ...minimal,
        environments: [{ ...minimal.environments[0], reporting_currency: 'EURO' }],
        fx_rates: [
          { date: '2026-11-01', from: 'USD', to: 'EUR', rate: 0.92 },
          { date: 'x', rate: 0 },
        ],
      },
      {},
    );
    expect(bad.errors.map((e) => e.field)).toEqual([
      'environments[0].reporting_currency',
      'fx_rates[1].date',
      'fx_rates[1].from',
      'fx_rates[1].to',
      'fx_rates[1].rate',
    ]);
  });
});
