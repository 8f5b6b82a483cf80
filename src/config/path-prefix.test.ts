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

describe('path_prefix (first-party mode)', () => {
  it('PP01 defaults to none', () => {
    expect(parseConfig(minimal, {}).config.path_prefix).toBe('');
  });

  it.each(['/metrics-xyz', '/a/b.c_d~e'])('PP02 %s is accepted', (prefix) => {
    const { config, errors } = parseConfig({ ...minimal, path_prefix: prefix }, {});
    expect(errors).toEqual([]);
    expect(config.path_prefix).toBe(prefix);
  });

  it.each(['metrics', '/metrics/', '/a b', '/a?x'])('PP03 %s is refused by name', (prefix) => {
    const { errors } = parseConfig({ ...minimal, path_prefix: prefix }, {});
    expect(errors).toEqual([
      { field: 'path_prefix', message: 'must look like /metrics-xyz (no trailing slash)' },
    ]);
  });
});
