import { describe, expect, it } from 'vitest';
import { attribute, attributionRules } from './attribution.js';
import { deviceAnonymousIds, normalizeDeviceId } from './device-id.js';
import type { Touch } from './event.js';

const IDFA = 'EA7583CD-A667-48BC-B806-42ECB2B48606';

describe('device ids', () => {
  it('DV01 ids are compared trimmed and lower-cased', () => {
    expect(normalizeDeviceId(` ${IDFA} `)).toBe(IDFA.toLowerCase());
  });

  it('DV02 the all-zero advertising id of an opted-out device is no id', () => {
    expect(normalizeDeviceId('00000000-0000-0000-0000-000000000000')).toBeNull();
    expect(normalizeDeviceId('')).toBeNull();
    expect(normalizeDeviceId('a b')).toBeNull();
  });

  it('DV03 each id becomes an anonymous id prefixed with its kind', () => {
    expect(deviceAnonymousIds({ gaid: 'g1', idfa: 'a1' })).toEqual(['idfa:a1', 'gaid:g1']);
  });

  it('DV04 an app event carrying the IDFA a click was kept under is attributed via device_id', () => {
    const click: Touch = {
      env_id: 'e',
      kind: 'click',
      touch_id: 'clk-1',
      dest_id: 'd',
      campaign_id: null,
      creative_id: null,
      placement_id: null,
      time: 1000,
      anonymous_id: `idfa:${IDFA.toLowerCase()}`,
      user_id: null,
      ip: '198.51.100.1',
      user_agent: null,
    };
    const decision = attribute(
      { time: 2000, user: { idfa: IDFA.toLowerCase(), ip: '203.0.113.5' }, linked: [] },
      [click],
      attributionRules({ id: 'd', click_window_ms: 7 * 86_400_000, view_window_ms: 86_400_000 }),
    );
    expect(decision).toMatchObject({
      attributed: true,
      attribution: { type: 'click', click_id: 'clk-1', match_key: 'device_id' },
    });
  });
});
