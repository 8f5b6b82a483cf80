import { describe, expect, it } from 'vitest';
import type { ConversionSchema } from './conversion-schema.js';
import { buildSkanSection, mapCampaign, type PostbackGroup, type SkanApp } from './skan-report.js';

const SCHEMA: ConversionSchema = {
  currency: 'USD',
  fine: [
    { match: { kind: 'bits', mask: 1, equals: 1 }, events: ['Registration'], revenue: null },
    { match: { kind: 'bits', mask: 2, equals: 2 }, events: ['Purchase'], revenue: null },
    { match: { kind: 'bits', mask: 12, equals: 4 }, events: [], revenue: { min: 1, max: 9 } },
  ],
  coarse: { high: { events: ['Purchase'], revenue: { min: 10, max: 30 } } },
  coarse_by_window: {},
};

const APP: SkanApp = {
  app_id: '111',
  name: 'Shop',
  schema: SCHEMA,
  campaigns: [
    { ad_network_id: 'net.a', source: '52', campaign_id: 'summer' },
    { ad_network_id: null, source: '5239', campaign_id: 'summer-video' },
    { ad_network_id: 'net.b', source: '7', campaign_id: 'legacy' },
  ],
};

function g(over: Partial<PostbackGroup>): PostbackGroup {
  return {
    framework: 'skadnetwork',
    app_id: '111',
    ad_network_id: 'net.a',
    campaign_id: null,
    source_identifier: '5201',
    fine_value: null,
    coarse_value: null,
    sequence_index: 0,
    did_win: true,
    redownload: false,
    conversion_type: null,
    n: 1,
    ...over,
  };
}

describe('SKAN report section', () => {
  it('SK01 counts installs, redownloads, re-engagements and non-winning postbacks apart', () => {
    const s = buildSkanSection(
      [
        g({ n: 5 }),
        g({ redownload: true, n: 2 }),
        g({ framework: 'adattributionkit', conversion_type: 're-engagement', n: 3 }),
        g({ did_win: false, n: 4 }),
        g({
          did_win: null,
          campaign_id: '7',
          source_identifier: null,
          ad_network_id: 'net.b',
          n: 1,
        }),
        g({ sequence_index: 1, coarse_value: 'high', n: 6 }),
      ],
      [APP],
    );
    expect(s.totals).toMatchObject({
      installs: 6,
      redownloads: 2,
      reengagements: 3,
      non_winning: 4,
      postbacks: 17,
      without_value: 11,
    });
    expect(s.rows.map((r) => [r.key, r.campaign_id, r.sources, r.source_kind, r.installs])).toEqual(
      [
        ['summer', 'summer', ['5201'], 'source_identifier', 5],
        ['legacy', 'legacy', ['7'], 'campaign_id', 1],
      ],
    );
  });

  it('SK02 decodes fine and coarse values into events per window, and revenue as a range', () => {
    const s = buildSkanSection(
      [
        g({ fine_value: 0b0111, n: 2 }), // registration + purchase, revenue 1–9
        g({ fine_value: 0b0001, n: 1 }),
        g({ fine_value: 0b1000, n: 1 }), // maps to nothing
        g({ sequence_index: 2, coarse_value: 'high', n: 3 }),
        g({ sequence_index: 1, coarse_value: 'low', n: 1 }), // unmapped coarse value
      ],
      [APP],
    );
    expect(s.totals.events).toEqual([
      { event: 'Registration', window: 0, count: 3 },
      { event: 'Purchase', window: 0, count: 2 },
      { event: 'Purchase', window: 2, count: 3 },
    ]);
    expect(s.totals.revenue).toEqual([{ currency: 'USD', min: 32, max: 108, mid: 70 }]);
    expect(s.totals.unmapped).toBe(2);
  });

  it('SK03 maps source identifiers by prefix, campaign ids exactly, the most specific map first', () => {
    const maps = APP.campaigns;
    expect(mapCampaign(maps, 'net.a', '5239', 'source_identifier')).toBe('summer-video');
    expect(mapCampaign(maps, 'net.a', '521', 'source_identifier')).toBe('summer');
    expect(mapCampaign(maps, 'net.x', '5239', 'source_identifier')).toBe('summer-video');
    // Two digits left by crowd anonymity cannot be told apart under a four-digit map.
    expect(mapCampaign(maps, 'net.x', '52', 'source_identifier')).toBeNull();
    expect(mapCampaign(maps, 'net.b', '7', 'campaign_id')).toBe('legacy');
    expect(mapCampaign(maps, 'net.b', '70', 'campaign_id')).toBeNull();
  });

  it('SK04 unmapped campaigns are keyed by network and source; a campaign filter keeps its own', () => {
    const groups = [g({ ad_network_id: 'net.z', source_identifier: '99' }), g({})];
    const all = buildSkanSection(groups, [APP]);
    expect(all.rows.map((r) => r.key).sort()).toEqual(['net.z:99', 'summer']);
    expect(buildSkanSection(groups, [APP], 'summer').rows.map((r) => r.key)).toEqual(['summer']);
    // An app without a schema: its values are unmapped, nothing is invented.
    const bare = buildSkanSection([g({ app_id: '222', fine_value: 3 })], []);
    expect(bare.totals).toMatchObject({ installs: 1, unmapped: 1, events: [], revenue: [] });
  });
});
