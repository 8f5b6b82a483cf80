import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../test/helpers/touch.js';
import { attribute, attributionRules, type ConversionIdentity } from './attribution.js';
import { explainAttribution } from './attribution-explain.js';
import type { TouchView } from './viewability.js';

// Issue 24: `view_requires_viewable` — only impressions the viewability tag saw viewable earn
// view-through credit; the rest fall through to the next eligible touch, classes unchanged.
const H = 3600;
const D = 86_400;
const NOW = 1_763_900_000;
const windows = { id: 'dsp1', click_window_ms: 7 * D * 1000, view_window_ms: D * 1000 };
const strict = attributionRules({ ...windows, view_requires_viewable: true });
const lenient = attributionRules(windows);

const VIEWABLE: TouchView = {
  measurable: true,
  viewable: true,
  time_to_view_ms: 1000,
  max_share: 1,
  video: false,
};
const SEEN_40: TouchView = { ...VIEWABLE, viewable: false, time_to_view_ms: null, max_share: 0.4 };

const touch = touchMaker({
  time: NOW - H,
  anonymous_id: 'anon-1',
  ip: '203.0.113.9',
  user_agent: 'UA',
});

const who: ConversionIdentity = {
  time: NOW,
  user: { anonymous_id: 'anon-1', ip: '203.0.113.9', user_agent: 'UA' },
  linked: [],
};

const credited = (d: ReturnType<typeof attribute>) =>
  d.attributed ? (d.attribution.imp_id ?? d.attribution.click_id) : null;

describe('view_requires_viewable', () => {
  it('AV01 a served but never viewable impression is not credited; the reason names it', () => {
    const t = touch({ touch_id: 'IMP-9', view: SEEN_40 });
    expect(credited(attribute(who, [t], lenient))).toBe('IMP-9');
    expect(attribute(who, [t], strict)).toEqual({
      attributed: false,
      reason: 'impression IMP-9 was served but never viewable (at most 40 % of it in view)',
    });
  });

  it('AV02 an impression no tag measured counts as never viewable under the option only', () => {
    const t = touch({ touch_id: 'IMP-9' });
    expect(credited(attribute(who, [t], lenient))).toBe('IMP-9');
    expect(attribute(who, [t], strict)).toMatchObject({
      attributed: false,
      reason: expect.stringMatching(
        /^impression IMP-9 was served but never viewable \(not measured/,
      ),
    });
  });

  it('AV03 a viewable impression is credited as before', () => {
    const t = touch({ touch_id: 'IMP-V', view: VIEWABLE });
    expect(attribute(who, [t], strict)).toMatchObject({
      attributed: true,
      attribution: { type: 'view', imp_id: 'IMP-V', match_key: 'cookie' },
    });
  });

  it('AV04 credit falls to the next eligible touch: an older viewable one, or a weaker class', () => {
    const late = touch({ touch_id: 'IMP-LATE', time: NOW - 60, view: SEEN_40 });
    const early = touch({ touch_id: 'IMP-EARLY', time: NOW - 2 * H, view: VIEWABLE });
    expect(credited(attribute(who, [late, early], lenient))).toBe('IMP-LATE');
    expect(credited(attribute(who, [late, early], strict))).toBe('IMP-EARLY');
    // The person's own impression was never seen; an ip+ua impression that was wins.
    const other = touch({ touch_id: 'IMP-IPUA', anonymous_id: 'anon-2', view: VIEWABLE });
    expect(attribute(who, [late, other], strict)).toMatchObject({
      attributed: true,
      attribution: { imp_id: 'IMP-IPUA', match_key: 'ip+ua' },
    });
  });

  it('AV05 clicks are untouched: a click still beats a viewable impression', () => {
    const click = touch({ kind: 'click', touch_id: 'CLK-1', time: NOW - 3 * H });
    const viewable = touch({ touch_id: 'IMP-V', view: VIEWABLE });
    expect(credited(attribute(who, [click, viewable], strict))).toBe('CLK-1');
  });

  it("AV06 the debugger says why, and shows each impression's viewability", () => {
    const t = touch({ touch_id: 'IMP-9', view: SEEN_40 });
    const x = explainAttribution(who, [t], strict, false);
    expect(x.attributed).toBe(false);
    expect(x.summary).toBe(
      'impression IMP-9 was served but never viewable (at most 40 % of it in view)',
    );
    const [shown] = x.by_key[0].touches;
    expect(shown).toMatchObject({
      verdict: 'not_eligible',
      viewability: { served: true, measurable: true, viewable: false, max_share: 0.4 },
    });
    expect(shown.message).toContain('impression IMP-9 was served but never viewable');
    const click = touch({ kind: 'click', touch_id: 'CLK-1' });
    expect(explainAttribution(who, [click], strict, false).by_key[0].touches[0].viewability).toBe(
      null,
    );
  });
});
