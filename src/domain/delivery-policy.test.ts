import { describe, expect, it } from 'vitest';
import { backoffMs, classifyAttempt, nextAttemptAt, RETRY_AFTER_CAP_S } from './delivery-policy.js';

const NOW = 1_763_900_000_000;
const status = (s: number, retryAfter?: string) =>
  classifyAttempt({ kind: 'response', status: s, retryAfter }, NOW);
const budget = { baseMs: 1000, maxAgeMs: 24 * 3_600_000, maxAttempts: 50 };

describe('delivery response classes', () => {
  it('R01 2xx is done', () => {
    expect(status(200).action).toBe('done');
    expect(status(204).action).toBe('done');
  });
  it('R02 400, 404 and 422 are dropped without retry', () => {
    for (const s of [400, 404, 422]) expect(status(s).action).toBe('drop');
  });
  it('R03 401 and 403 pause the destination', () => {
    expect(status(401).action).toBe('pause');
    expect(status(403).action).toBe('pause');
  });
  it('R04 408, 429, 500, 502, 503 are retried', () => {
    for (const s of [408, 429, 500, 502, 503]) expect(status(s).action).toBe('retry');
  });
  it('R05 501 and 505 are not retried', () => {
    expect(status(501).action).toBe('drop');
    expect(status(505).action).toBe('drop');
  });
  it('R06 a network error is retried', () => {
    expect(classifyAttempt({ kind: 'network', error: 'ECONNREFUSED' }, NOW).action).toBe('retry');
  });
  it('R07 429 with Retry-After waits that long, capped at 300 s', () => {
    expect(status(429, '7')).toMatchObject({ retryAfterMs: 7000 });
    expect(status(429, '99999')).toMatchObject({ retryAfterMs: RETRY_AFTER_CAP_S * 1000 });
    expect(status(503, new Date(NOW + 20_000).toUTCString())).toMatchObject({
      retryAfterMs: 20_000,
    });
  });
});

describe('backoff and retry budget', () => {
  it('R08 backoff doubles per attempt within [50%, 100%] jitter', () => {
    expect(backoffMs(1, 1000, () => 1)).toBe(1000);
    expect(backoffMs(3, 1000, () => 1)).toBe(4000);
    expect(backoffMs(3, 1000, () => 0)).toBe(2000);
  });
  it('R09 backoff is capped at one hour', () => {
    expect(backoffMs(40, 1000, () => 1)).toBe(3_600_000);
  });
  it('R10 Retry-After replaces the backoff', () => {
    const at = nextAttemptAt(
      { action: 'retry', reason: '', retryAfterMs: 5000 },
      1,
      NOW,
      NOW,
      budget,
      () => 1,
    );
    expect(at).toBe(NOW + 5000);
  });
  it('R11 the row dead-letters once the next attempt would pass 24 h', () => {
    const first = NOW - 24 * 3_600_000 + 500;
    expect(
      nextAttemptAt({ action: 'retry', reason: '' }, 3, first, NOW, budget, () => 1),
    ).toBeNull();
  });
  it('R12 the row dead-letters after max attempts', () => {
    expect(
      nextAttemptAt({ action: 'retry', reason: '' }, 50, NOW, NOW, budget, () => 1),
    ).toBeNull();
    expect(nextAttemptAt({ action: 'retry', reason: '' }, 2, NOW, NOW, budget, () => 1)).toBe(
      NOW + 2000,
    );
  });
});
