import { describe, expect, it } from 'vitest';
import { retentionCutoffs, UNVERIFIED_POSTBACK_RETENTION_MS } from './retention.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

describe('retention cutoffs', () => {
  it('RT01 unverified postbacks go after 30 days, or with the events when those go sooner', () => {
    const long = retentionCutoffs(
      { touch_retention_ms: 90 * DAY_MS, event_retention_ms: 400 * DAY_MS },
      NOW,
    );
    expect(long.events_before_ms).toBe(NOW - 400 * DAY_MS);
    expect(long.unverified_postbacks_before_ms).toBe(NOW - UNVERIFIED_POSTBACK_RETENTION_MS);
    expect(UNVERIFIED_POSTBACK_RETENTION_MS).toBe(30 * DAY_MS);
    const short = retentionCutoffs(
      { touch_retention_ms: 90 * DAY_MS, event_retention_ms: 7 * DAY_MS },
      NOW,
    );
    expect(short.unverified_postbacks_before_ms).toBe(NOW - 7 * DAY_MS);
  });
});
