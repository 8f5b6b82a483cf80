import { describe, expect, it } from 'vitest';
import { attribute, attributionRules, type ConversionIdentity } from './attribution.js';
import { explainAttribution } from './attribution-explain.js';
import type { Touch } from './event.js';
import { installReferrerClickId, isPlayStoreLink, withPlayReferrer } from './install-referrer.js';
import { validateEvent } from './validation.js';

const PLAY = 'https://play.google.com/store/apps/details?id=com.example.shop';

function click(touch_id: string, time: number, anonymous_id: string | null): Touch {
  return {
    env_id: 'e',
    kind: 'click',
    touch_id,
    dest_id: 'd',
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id,
    user_id: null,
    ip: null,
    user_agent: null,
  };
}

describe('Google Play install referrer (issue 25)', () => {
  it('IR01 the click id is read from the referrer as Play answers it, or URL-encoded once more', () => {
    expect(
      installReferrerClickId('utm_source=net&utm_medium=cpc&pt_click_id=CLK-1', 'pt_click_id'),
    ).toBe('CLK-1');
    expect(installReferrerClickId('utm_source%3Dnet%26pt_click_id%3DCLK-2', 'pt_click_id')).toBe(
      'CLK-2',
    );
    expect(installReferrerClickId('cid=CLK-3', 'cid')).toBe('CLK-3');
    expect(
      installReferrerClickId('utm_source=google-play&utm_medium=organic', 'pt_click_id'),
    ).toBeNull();
    expect(installReferrerClickId(42, 'pt_click_id')).toBeNull();
    expect(installReferrerClickId(`pt_click_id=${'x'.repeat(3000)}`, 'pt_click_id')).toBeNull();
  });

  it("IR02 a Play link gets the click id inside its referrer, the link's own referrer kept", () => {
    const plain = withPlayReferrer(PLAY, 'pt_click_id', 'CLK-4');
    expect(new URL(plain).searchParams.get('referrer')).toBe('pt_click_id=CLK-4');
    const tagged = withPlayReferrer(
      `${PLAY}&referrer=utm_source%3Dnet%26pt_click_id%3Dold`,
      'pt_click_id',
      'CLK 5',
    );
    const referrer = new URL(tagged).searchParams.get('referrer') as string;
    expect(referrer).toBe('utm_source=net&pt_click_id=CLK+5');
    // What Play hands the app is that referrer: it names the click again.
    expect(installReferrerClickId(referrer, 'pt_click_id')).toBe('CLK 5');
    expect(isPlayStoreLink(PLAY)).toBe(true);
    expect(isPlayStoreLink('https://play.google.com/store/search?q=x')).toBe(false);
    expect(isPlayStoreLink('https://shop.example/store/apps/details')).toBe(false);
  });

  it('IR03 an install event carrying the referrer names the click; a non-string referrer is refused', () => {
    const ctx = {
      nowMs: 1_800_000_000_000,
      source: 'server' as const,
      envId: 'e',
      newId: () => 'g',
    };
    const r = validateEvent(
      {
        event_name: 'app_install',
        properties: { install_referrer: 'utm_source=n&pt_click_id=C9' },
      },
      ctx,
    );
    expect(r.ok && r.event.user.install_referrer_click_id).toBe('C9');
    const bad = validateEvent(
      { event_name: 'app_install', properties: { install_referrer: 7 } },
      ctx,
    );
    expect(!bad.ok && bad.errors).toEqual([
      { field: 'properties.install_referrer', message: 'must be a string' },
    ]);
  });

  it('IR04 the referrer click wins over a later click of the same device, and the debugger says why', () => {
    const gaid = 'gaid:38400000-8cf0-11bd-b23e-10b96e40000d';
    const who: ConversionIdentity = {
      time: 100_000,
      user: { gaid: gaid.slice(5), install_referrer_click_id: 'CLK-REF' },
      linked: [],
    };
    const touches = [click('CLK-REF', 10_000, null), click('CLK-LATER', 90_000, gaid)];
    const rules = attributionRules({
      id: 'd',
      click_window_ms: 7 * 86_400_000,
      view_window_ms: 86_400_000,
    });
    expect(attribute(who, touches, rules)).toMatchObject({
      attributed: true,
      attribution: {
        click_id: 'CLK-REF',
        match_key: 'install_referrer',
        match_type: 'deterministic',
      },
    });
    const x = explainAttribution(who, touches, rules, false);
    expect(x.passed_over[0].reason).toBe(
      "click CLK-LATER via device_id: the credited click CLK-REF via install_referrer (deterministic click) is the click Google Play's install referrer names",
    );
  });
});
