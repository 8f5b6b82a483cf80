import { describe, expect, it } from 'vitest';
import { cheapestCpuMs } from '../../test/helpers/cpu-time.js';
import { costsFromCsv, costsFromJson, MAX_COST_ROWS } from './costs.js';

describe('cost imports', () => {
  it('CO01 every bad line is named by line and field; the good ones are kept', () => {
    const csv = [
      'Date,Campaign_ID,Cost,Currency,Channel,Impressions,Clicks',
      '2026-11-20,c1,120.50,eur,Paid Social,10000,250',
      '2026-11-31,c1,5,EUR,,,',
      '2026-11-21,,5,EUR,,,',
      '2026-11-21,c2,-3,EUR,,,',
      '2026-11-21,c2,1e3,EUR,,,',
      '2026-11-21,c2,7,EURO,,,',
      '2026-11-21,c3,7,USD,,12.5,x',
      '2026-11-21,"c4,north",8,USD,Display,,',
    ].join('\r\n');
    const r = costsFromCsv(csv);
    if ('unusable' in r) throw new Error('usable expected');
    expect(r.errors.map((e) => [e.line, e.field])).toEqual([
      [3, 'date'],
      [4, 'campaign_id'],
      [5, 'cost'],
      [6, 'cost'],
      [7, 'currency'],
      [8, 'impressions'],
      [8, 'clicks'],
    ]);
    expect(r.rows).toEqual([
      expect.objectContaining({
        campaign_id: 'c1',
        channel: 'Paid Social',
        cost: 120.5,
        currency: 'EUR',
        impressions: 10000,
        clicks: 250,
      }),
      expect.objectContaining({
        campaign_id: 'c4,north',
        channel: 'Display',
        cost: 8,
        currency: 'USD',
        impressions: null,
      }),
    ]);
  });

  it('CO02 lines of one campaign, channel and day add up; another currency for it is refused', () => {
    const r = costsFromCsv(
      'date,campaign_id,cost,currency,clicks\n2026-11-20,c1,10,EUR,3\n2026-11-20,c1,2.5,EUR,1\n2026-11-20,c1,9,USD,\n',
    );
    if ('unusable' in r) throw new Error('usable expected');
    expect(r.rows).toEqual([expect.objectContaining({ campaign_id: 'c1', cost: 12.5, clicks: 4 })]);
    expect(r.errors).toEqual([
      expect.objectContaining({
        line: 4,
        field: 'currency',
        message: 'c1 on that day is already in EUR in this import',
      }),
    ]);
  });

  it('CO03 a file without the required columns is unusable as a whole, naming them', () => {
    const r = costsFromCsv('day,campaign,spend\n2026-11-20,c1,10\n');
    expect(r).toEqual({
      unusable: [
        expect.objectContaining({
          field: 'header',
          message: expect.stringContaining('missing date, campaign_id, cost, currency'),
        }),
      ],
    });
  });

  it('CO04 JSON rows are named by index and field', () => {
    const r = costsFromJson({
      costs: [
        { date: '2026-11-20', campaign_id: 'c1', cost: 3, currency: 'EUR' },
        { date: '20/11/2026', campaign_id: 'c1', cost: 'x', currency: 'EUR' },
      ],
    });
    if ('unusable' in r) throw new Error('usable expected');
    expect(r.rows).toHaveLength(1);
    expect(r.errors.map((e) => e.field)).toEqual(['costs[1].date', 'costs[1].cost']);
  });

  it('CO05 100,000 good lines are read and checked in linear time (under 3 s of CPU); one more is refused', async () => {
    const lines = ['date,campaign_id,cost,currency,channel,source,medium,impressions,clicks'];
    for (let i = 0; i < MAX_COST_ROWS; i++) {
      const day = String(1 + (i % 28)).padStart(2, '0');
      lines.push(
        `2026-11-${day},"camp, ${i % 500}",${i % 997}.25,EUR,Paid Search,google,cpc,${i},7`,
      );
    }
    let rows = 0;
    // Measured 230 ms; before issue 23's review 900 ms (csv-parse, a Date parsed and printed
    // back per line), and 4.2 s with the bigger columns of the review's file.
    const cpu = await cheapestCpuMs(() => {
      const r = costsFromCsv(lines.join('\n'));
      rows = 'rows' in r ? r.rows.length : -1;
    });
    expect(rows).toBe(3500);
    // A bound on linear time, not a speed goal (that is `npm run bench`'s): the csv-parse
    // reader took 32 s on junk lines; a loaded box may take several times the 230 ms.
    expect(cpu).toBeLessThan(3000);
    lines.push('2026-11-01,c,1,EUR,,,,,');
    expect(costsFromCsv(lines.join('\n'))).toEqual({
      unusable: [{ field: 'body', message: `at most ${MAX_COST_ROWS} lines per import` }],
    });
  });
});
