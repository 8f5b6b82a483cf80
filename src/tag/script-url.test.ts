import { describe, expect, it } from 'vitest';
import { scriptUrl } from './script-url.js';

const URL_ = 'https://collect.example:8443/js/t.js?env_id=env_demo';

describe('scriptUrl', () => {
  it('S01 reads a Chromium stack, with and without a function name', () => {
    expect(scriptUrl(`Error\n    at z (${URL_}:1:5120)\n    at ${URL_}:1:6010`)).toBe(URL_);
    expect(scriptUrl(`Error\n    at ${URL_}:1:6010`)).toBe(URL_);
  });

  it('S02 reads a Firefox and a Safari stack', () => {
    expect(scriptUrl(`z@${URL_}:1:5120\n_@${URL_}:1:310\n`)).toBe(URL_);
    expect(scriptUrl(`z@${URL_}:1:5120\nglobal code@${URL_}:1:6010`)).toBe(URL_);
  });

  it('S03 keeps the port and a path without a query', () => {
    expect(scriptUrl('Error\n    at z (http://127.0.0.1:3000/t.js:1:20)')).toBe(
      'http://127.0.0.1:3000/t.js',
    );
  });

  it('S04 is undefined for a stack without a web URL (none, or a limit of 0 frames)', () => {
    expect(scriptUrl('Error')).toBeUndefined();
    expect(scriptUrl(undefined)).toBeUndefined();
  });
});
