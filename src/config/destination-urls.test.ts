import { describe, expect, it } from 'vitest';
import { parseConfig, parseDestinationConfig } from './config-parse.js';
import { urlsNotInFile } from './destination-urls.js';

const hook = (url: string, extra: Record<string, unknown> = {}) =>
  parseDestinationConfig({ id: 'd', type: 'webhook', url, secret: 's', ...extra }).dest;

describe('destination URLs', () => {
  it('DU01 an edit keeping the file definition addresses aims nowhere new', () => {
    const file = hook('http://127.0.0.1:9/hook');
    expect(urlsNotInFile(hook('http://127.0.0.1:9/hook', { view_window: '2d' }), file)).toEqual([]);
    expect(urlsNotInFile(hook('http://127.0.0.1:9/other'), file)).toEqual([
      { field: 'settings.url', url: 'http://127.0.0.1:9/other' },
    ]);
    expect(
      urlsNotInFile(hook('https://a.example/h', { base_url: 'http://10.0.0.1' }), undefined),
    ).toEqual([
      { field: 'base_url', url: 'http://10.0.0.1' },
      { field: 'settings.url', url: 'https://a.example/h' },
    ]);
  });

  it('DU02 allow_private_destinations takes true, false or CIDRs, and names a bad entry', () => {
    const parse = (allow_private_destinations: unknown) =>
      parseConfig(
        {
          admin_token: 'a',
          allow_private_destinations,
          environments: [{ id: 'e', write_key: 'w' }],
        },
        {},
      );
    expect(parse(undefined).config.allow_private_destinations).toBe(false);
    expect(parse(true).config.allow_private_destinations).toBe(true);
    expect(parse(['10.0.0.0/8', '127.0.0.1']).config.allow_private_destinations).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    expect(parse(['10.0.0.0/8', 'intranet']).errors).toEqual([
      { field: 'allow_private_destinations[1]', message: 'is not a CIDR such as 10.0.0.0/8' },
    ]);
  });
});
