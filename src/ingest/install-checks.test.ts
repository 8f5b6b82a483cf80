import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attribute, attributionRules } from '../domain/attribution.js';
import type { EnvironmentConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { FLOOD_HALF_WINDOW_S, INSTALL_FRAUD_DEFAULTS } from '../domain/install-fraud.js';
import type { IngestTx } from '../store/store.js';
import { eventChecks, settleFlood } from './install-checks.js';

// CTIT and flooding on generated click streams (issue 25): what settleFlood credits must be
// the latest click of the installing device that a brute-force reading of the rules allows.
const INSTALL_S = 1_780_000_000;
const SETTINGS = {
  ...INSTALL_FRAUD_DEFAULTS,
  click_injection_window_ms: 10_000,
  flood_clicks_per_device: 3,
  flood_clicks_per_ip: 6,
};
const RULES = attributionRules({ id: 'd', click_window_ms: 86_400_000, view_window_ms: 3_600_000 });

interface GenClick {
  device: number;
  ip: number;
  /** Seconds before the install (negative: after it). */
  before: number;
}

/** Clicks in bursts (floods), near the install (injection), and spread over hours. */
const clickArb: fc.Arbitrary<GenClick> = fc.record({
  device: fc.nat(2),
  ip: fc.nat(1),
  before: fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: -40, max: 30 }) },
    { weight: 3, arbitrary: fc.integer({ min: 1000, max: 1300 }) },
    { weight: 3, arbitrary: fc.integer({ min: 30, max: 4 * 3600 }) },
  ),
});

function touchesOf(clicks: readonly GenClick[]): Touch[] {
  return clicks.map((c, i) => ({
    env_id: 'e',
    kind: 'click',
    touch_id: `c${String(i).padStart(3, '0')}`,
    dest_id: 'd',
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time: INSTALL_S - c.before,
    anonymous_id: `gaid:g${c.device}`,
    user_id: null,
    ip: `ip${c.ip}`,
    user_agent: null,
  }));
}

/** The store's count, read from the stream itself (counting stops at `cap`, as the SQL does). */
function fakeTx(all: readonly Touch[], reads: { n: number }): IngestTx {
  const countClicks = async (
    _env: string,
    by: 'anonymous_id' | 'ip',
    value: string,
    from: number,
    to: number,
    cap: number,
  ) => {
    reads.n++;
    const n = all.filter((t) => t[by] === value && t.time >= from && t.time <= to).length;
    return Math.min(n, cap);
  };
  return { countClicks } as unknown as IngestTx;
}

/** The rules read literally: the latest clean click of device g0 in its window, or none. */
function reference(all: readonly Touch[]): string | null {
  const around = (t: Touch, by: 'anonymous_id' | 'ip') =>
    all.filter((x) => x[by] === t[by] && Math.abs(x.time - t.time) <= FLOOD_HALF_WINDOW_S).length;
  const ok = all.filter((t) => {
    const gap = INSTALL_S - t.time;
    return (
      t.anonymous_id === 'gaid:g0' &&
      gap >= -30 &&
      gap <= 86_400 &&
      gap >= 10 &&
      around(t, 'anonymous_id') <= SETTINGS.flood_clicks_per_device &&
      around(t, 'ip') <= SETTINGS.flood_clicks_per_ip
    );
  });
  ok.sort((a, b) => b.time - a.time || (a.touch_id < b.touch_id ? -1 : 1));
  return ok[0]?.touch_id ?? null;
}

const install: TrackedEvent = {
  env_id: 'e',
  event_name: 'app_install',
  event_id: 'i1',
  event_time: INSTALL_S,
  source: 'server',
  user: { gaid: 'g0' },
  properties: {},
  consent: { ads: true, analytics: null },
  warnings: [],
};
const env = { install_fraud: SETTINGS } as unknown as EnvironmentConfig;

async function credited(all: Touch[], reads = { n: 0 }) {
  const checks = eventChecks(install, env, undefined, undefined);
  const who = { time: INSTALL_S, user: install.user, linked: [] };
  const rules = { ...RULES, exclude: checks.exclude };
  await settleFlood(fakeTx(all, reads), checks, who, all, [rules]);
  const d = attribute(who, all, rules);
  return d.attributed ? d.attribution.click_id : null;
}

describe('install fraud checks on generated click streams (issue 25)', () => {
  it('IC01 the credited click is the latest one neither injected nor flooding', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(clickArb, { minLength: 1, maxLength: 40 }), async (gen) => {
        const all = touchesOf(gen);
        expect(await credited(all)).toBe(reference(all));
      }),
      { numRuns: 300, seed: 25 },
    );
  });

  it('IC02 a flood costs one bounded count per barred winner, not one per touch', async () => {
    // 40 clicks of the device in one minute, then a clean one two hours earlier.
    const gen: GenClick[] = [
      { device: 0, ip: 1, before: 7200 },
      ...Array.from({ length: 40 }, (_, i) => ({ device: 0, ip: 0, before: 600 + i })),
    ];
    const reads = { n: 0 };
    expect(await credited(touchesOf(gen), reads)).toBe('c000');
    // Each of the 40 flooding clicks is judged once (device count only: it is over), the
    // clean one by device and address.
    expect(reads.n).toBe(42);
  });

  it('IC03 an install 9 s after its only click is credited nothing; 10 s after, the click', async () => {
    expect(await credited(touchesOf([{ device: 0, ip: 0, before: 9 }]))).toBeNull();
    expect(await credited(touchesOf([{ device: 0, ip: 0, before: 10 }]))).toBe('c000');
  });
});
