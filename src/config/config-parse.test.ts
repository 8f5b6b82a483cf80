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
    expect(config.environments[0].click_secret).toBe('wk');
  });

  it('K02 names every bad field by path', () => {
    const { errors } = parseConfig(
      {
        environments: [
          {
            id: 'bad id!',
            write_key: 'wk',
            destinations: [{ id: 'd', type: 'fax', url: 'ftp://x', click_window: '7 days' }],
          },
        ],
      },
      {},
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'admin_token',
      'environments[0].destinations[0].click_window',
      'environments[0].destinations[0].type',
      'environments[0].destinations[0].url',
      'environments[0].id',
    ]);
  });

  it('K03 the environment overrides the file for port and data folder', () => {
    const { config } = parseConfig({ ...minimal, port: 1 }, { port: 9090, data_dir: '/tmp/x' });
    expect(config.port).toBe(9090);
    expect(config.data_dir).toBe('/tmp/x');
  });
});
