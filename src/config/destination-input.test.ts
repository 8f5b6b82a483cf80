import { describe, expect, it } from 'vitest';
import { parseDestinationConfig } from './config-parse.js';
import {
  apiFieldErrors,
  destinationFromInput,
  destinationToRaw,
  MASK,
} from './destination-input.js';

const fileForm = {
  id: 'meta1',
  type: 'meta',
  pixel_id: '123',
  access_token: 'EAAB-secret',
  events: ['Purchase', 'Lead'],
  click_window: '28d',
  view_window: '12h',
  retry: { base_delay: '2s', max_attempts: 5 },
  batch: { size: 200, max_wait: '500ms' },
  base_url: 'http://127.0.0.1:9/',
  test_mode: true,
};

describe('destinations in the config file form', () => {
  it('DI01 a parsed destination written back parses to the same destination', () => {
    const first = parseDestinationConfig(fileForm);
    expect(first.errors).toEqual([]);
    const again = parseDestinationConfig(destinationToRaw(first.dest));
    expect(again.errors).toEqual([]);
    expect(again.dest).toEqual(first.dest);
  });

  it('DI02 an edit keeps fields left out and a secret sent back masked', () => {
    const current = parseDestinationConfig(fileForm).dest;
    const raw = destinationFromInput(
      { view_window: '1d', settings: { pixel_id: '456', access_token: MASK } },
      current,
      ['access_token'],
    );
    const edited = parseDestinationConfig(raw).dest;
    expect(edited).toMatchObject({
      click_window_ms: 28 * 86_400_000,
      view_window_ms: 86_400_000,
      settings: { pixel_id: '456', access_token: 'EAAB-secret' },
    });
  });

  it('DI03 a masked secret is not kept when the type changes', () => {
    const current = parseDestinationConfig(fileForm).dest;
    const raw = destinationFromInput(
      { type: 'webhook', settings: { url: 'http://127.0.0.1:9/h' } },
      current,
      ['access_token'],
    );
    const { dest, errors } = parseDestinationConfig(raw);
    expect(errors).toEqual([]);
    expect(dest.settings).toEqual({ url: 'http://127.0.0.1:9/h' });
  });

  it('DI04 errors name type-specific fields under settings, once each', () => {
    const { errors } = parseDestinationConfig({ id: 'w', type: 'webhook', view_window: 'x' });
    expect(apiFieldErrors(errors).map((e) => e.field)).toEqual(['view_window', 'settings.url']);
  });

  it('DI05 an edit of a destination whose secret came from env:NAME keeps the reference, not the value', () => {
    const env = { META_TOKEN: 'EAAB-from-env' };
    const current = parseDestinationConfig(
      { ...fileForm, access_token: 'env:META_TOKEN' },
      env,
    ).dest;
    expect(current.settings.access_token).toBe('EAAB-from-env');
    for (const [body, replace] of [
      [{ view_window: '2d' }, false],
      [{ view_window: '2d', settings: { pixel_id: '123', access_token: MASK } }, false],
      [{ type: 'meta', view_window: '2d', settings: { pixel_id: '123' } }, true],
    ] as const) {
      const raw = destinationFromInput(body, current, ['access_token'], replace);
      expect(raw.access_token).toBe('env:META_TOKEN');
      expect(JSON.stringify(raw)).not.toContain('EAAB-from-env');
      expect(parseDestinationConfig(raw, env).dest.settings.access_token).toBe('EAAB-from-env');
    }
    // A new secret typed in replaces the reference.
    const typed = destinationFromInput(
      { settings: { pixel_id: '123', access_token: 'EAAB-typed' } },
      current,
      ['access_token'],
    );
    expect(typed.access_token).toBe('EAAB-typed');
  });
});
