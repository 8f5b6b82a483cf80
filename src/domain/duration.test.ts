import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from './duration.js';

describe('durations', () => {
  it('T01 parses every unit', () => {
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('15m')).toBe(900_000);
    expect(parseDurationMs('12h')).toBe(43_200_000);
    expect(parseDurationMs('7d')).toBe(604_800_000);
  });
  it('T02 refuses what is not a duration', () => {
    expect(parseDurationMs('7 days')).toBeNull();
    expect(parseDurationMs('')).toBeNull();
    expect(parseDurationMs('-1d')).toBeNull();
  });
  it('T03 formats in the largest whole unit', () => {
    expect(formatDurationMs(86_400_000)).toBe('1d');
    expect(formatDurationMs(90_000)).toBe('90s');
    expect(formatDurationMs(1500)).toBe('1500ms');
  });
});
