import { describe, expect, it } from 'vitest';
import { emptyViewabilityCounts, viewabilityReport } from './viewability-report.js';

const q = {
  env_id: 'e',
  from_s: 0,
  to_s: 86_400,
  group_by: 'campaign' as const,
  view: 'deduplicated' as const,
};

describe('viewability report model', () => {
  it('VRM01 rates: measurable of served, viewable of measurable (MRC), of served, credits', () => {
    const r = viewabilityReport(q, [
      {
        key: 'c1',
        served: 8,
        measurable: 6,
        viewable: 3,
        view_conversions: 4,
        viewable_view_conversions: 1,
      },
    ]);
    expect(r.rows[0]).toMatchObject({
      measurable_rate: 0.75,
      viewable_rate: 0.5,
      viewable_share_of_served: 0.375,
      viewable_conversion_share: 0.25,
    });
  });

  it('VRM02 a rate with nothing under it is null; rows by served, totals add up', () => {
    const r = viewabilityReport(q, [
      { ...emptyViewabilityCounts('small'), served: 1 },
      { ...emptyViewabilityCounts('big'), served: 5, measurable: 2, viewable: 2 },
      { ...emptyViewabilityCounts(''), view_conversions: 1 },
    ]);
    expect(r.rows.map((x) => x.key)).toEqual(['big', 'small', '']);
    expect(r.rows[1]).toMatchObject({ measurable_rate: 0, viewable_rate: null });
    expect(r.totals).toMatchObject({ served: 6, measurable: 2, viewable: 2, view_conversions: 1 });
  });
});
