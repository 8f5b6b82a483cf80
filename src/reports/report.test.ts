import { describe, expect, it } from 'vitest';
import { buildReport, emptyCounts, reportCsv } from './report.js';

const q = {
  env_id: 'e',
  from_s: Date.parse('2026-11-01T00:00:00Z') / 1000,
  to_s: Date.parse('2026-11-04T00:00:00Z') / 1000,
  group_by: 'day' as const,
};

describe('reports', () => {
  it('RP01 a day report has every day of the range, zeros included', () => {
    const r = buildReport(q, [{ ...emptyCounts('2026-11-02'), impressions: 4 }], undefined);
    expect(r.rows.map((x) => [x.key, x.impressions])).toEqual([
      ['2026-11-01', 0],
      ['2026-11-02', 4],
      ['2026-11-03', 0],
    ]);
  });

  it('RP02 rates, CPA and ROAS are null rather than divided by zero', () => {
    const r = buildReport({ ...q, group_by: 'campaign' }, [], {
      ...emptyCounts(''),
      clicks: 0,
      conversions: 3,
      revenue: 90,
      cost: 30,
    });
    expect(r.totals).toMatchObject({ click_conversion_rate: null, cpa: 10, roas: 3 });
    expect(buildReport(q, [], undefined).totals).toMatchObject({ cpa: null, roas: null });
  });

  it('RP03 other groups sort by conversions; CSV quotes and defuses formulas', () => {
    const r = buildReport(
      { ...q, group_by: 'campaign' },
      [
        { ...emptyCounts('a,b'), conversions: 1 },
        { ...emptyCounts('=HYPERLINK("x")'), conversions: 2 },
      ],
      undefined,
    );
    expect(r.rows.map((x) => x.key)).toEqual(['=HYPERLINK("x")', 'a,b']);
    const lines = reportCsv(r).split('\r\n');
    expect(lines[1].startsWith(`"'=HYPERLINK(""x"")",`)).toBe(true);
    expect(lines[2].startsWith('"a,b",')).toBe(true);
  });
});
