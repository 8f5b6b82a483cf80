import { describe, expect, it } from 'vitest';
import { scriptUrl } from './script-url.js';

const URL_ = 'https://collect.example:8443/js/t.js?env_id=env_demo';
/** The page the stacks are read on. */
const PAGE = 'https://shop.example/products/shoe?x=1#top';
const read = (stack: string | undefined) => scriptUrl(stack, PAGE);

describe('scriptUrl', () => {
  it('S01 reads a Chromium stack, with and without a function name', () => {
    expect(read(`Error\n    at z (${URL_}:1:5120)\n    at ${URL_}:1:6010`)).toBe(URL_);
    expect(read(`Error\n    at ${URL_}:1:6010`)).toBe(URL_);
  });

  it('S02 reads a Firefox and a Safari stack', () => {
    expect(read(`z@${URL_}:1:5120\n_@${URL_}:1:310\n`)).toBe(URL_);
    expect(read(`z@${URL_}:1:5120\nglobal code@${URL_}:1:6010`)).toBe(URL_);
  });

  it('S03 keeps the port and a path without a query', () => {
    expect(read('Error\n    at z (http://127.0.0.1:3000/t.js:1:20)')).toBe(
      'http://127.0.0.1:3000/t.js',
    );
  });

  it('S04 is undefined for a stack without a web URL (none, or a limit of 0 frames)', () => {
    expect(read('Error')).toBeUndefined();
    expect(read(undefined)).toBeUndefined();
  });

  it('S05 a copy inline in the page (its frames name the page, without the fragment) has no URL of its own', () => {
    expect(read('Error\n    at https://shop.example/products/shoe?x=1:1:20')).toBe('');
    expect(read('z@https://shop.example/products/shoe?x=1:3:7')).toBe('');
    // Another page of the same shop is a script of its own.
    expect(read('Error\n    at https://shop.example/pt/t.js:1:20')).toBe(
      'https://shop.example/pt/t.js',
    );
  });
});
