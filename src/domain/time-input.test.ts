import { describe, expect, it } from 'vitest';
import { timeInputMs } from './time-input.js';

describe('time input', () => {
  it('TI01 Unix seconds and ISO times read as the same instant', () => {
    expect(timeInputMs('1700000000')).toBe(1_700_000_000_000);
    expect(timeInputMs('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(timeInputMs('2023-11-14')).toBe(Date.UTC(2023, 10, 14));
  });

  it('TI02 what is no time, or no time between 1970 and 9999, is null', () => {
    for (const bad of ['', 'yesterday', '9000000000000', '10000-01-01T00:00:00Z'])
      expect(timeInputMs(bad)).toBeNull();
    expect(timeInputMs('0')).toBe(0);
  });
});
