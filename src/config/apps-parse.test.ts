import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-parse.js';
import { findApp } from './find-app.js';

const base = {
  admin_token: 'adm',
  environments: [
    { id: 'env_ios', write_key: 'wk1' },
    { id: 'env_web', write_key: 'wk2' },
  ],
};

describe('apps config (issue 25)', () => {
  it('AP01 maps an App Store id and a Play package to their environments', () => {
    const { config, errors } = parseConfig(
      {
        ...base,
        apps: [
          // YAML reads an unquoted store id as a number.
          { app_id: 1234567890, platform: 'ios', env_id: 'env_ios', bundle_id: 'com.ex.shop' },
          { app_id: 'com.ex.shop', platform: 'android', env_id: 'env_web', name: 'Shop' },
        ],
      },
      {},
    );
    expect(errors).toEqual([]);
    expect(findApp(config, 'ios', 1234567890)?.env_id).toBe('env_ios');
    expect(findApp(config, 'ios', 'com.ex.shop')?.app_id).toBe('1234567890');
    expect(findApp(config, 'android', 'com.ex.shop')?.env_id).toBe('env_web');
    expect(findApp(config, 'android', '1234567890')).toBeUndefined();
    expect(findApp(config, 'ios', '999')).toBeUndefined();
  });

  it('AP02 no apps listed is an empty list', () => {
    const { config, errors } = parseConfig(base, {});
    expect(errors).toEqual([]);
    expect(config.apps).toEqual([]);
  });

  it('AP03 names every bad app field by path', () => {
    const { errors } = parseConfig(
      {
        ...base,
        apps: [
          { app_id: 'id123', platform: 'ios', env_id: 'env_ios' },
          { app_id: '42', platform: 'windows', env_id: 'nope', colour: 'red' },
          { app_id: 'not a package', platform: 'android', env_id: 'env_web' },
          { platform: 'ios', env_id: 'env_ios', bundle_id: 'x' },
          { app_id: '7', env_id: 'env_ios' },
        ],
      },
      {},
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'apps[0].app_id',
      'apps[1].colour',
      'apps[1].env_id',
      'apps[1].platform',
      'apps[2].app_id',
      'apps[3].app_id',
      'apps[3].bundle_id',
      'apps[4].platform',
    ]);
  });

  it('AP04 the same app listed twice is an error', () => {
    const app = { app_id: '1', platform: 'ios', env_id: 'env_ios' };
    const { errors } = parseConfig({ ...base, apps: [app, { ...app, env_id: 'env_web' }] }, {});
    expect(errors.map((e) => e.field)).toEqual(['apps']);
    expect(parseConfig({ ...base, apps: { a: 1 } }, {}).errors.map((e) => e.field)).toEqual([
      'apps',
    ]);
  });
});
