import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inPageOrder, type JourneyRow } from './journeys.js';

const row = (id: number, time: number): JourneyRow => [
  id,
  'impression',
  `t${id}`,
  null,
  null,
  time,
  `p${id % 3}`,
  null,
  null,
  null,
  null,
];

describe('a page of journey touches (issue 22)', () => {
  it('JP01 a page comes out in (time, id) order, whatever order the database gave it in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.nat(50), time: fc.nat(5) }), { maxLength: 30 }),
        (specs) => {
          const rows = specs.map((x) => row(x.id, x.time));
          const ordered = inPageOrder([...rows]).map((r) => [r[5], r[0]]);
          const expected = [...rows]
            .sort((a, b) => a[5] - b[5] || a[0] - b[0])
            .map((r) => [r[5], r[0]]);
          expect(ordered).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('JP02 a page already in order is taken as it is', () => {
    const rows = [row(1, 10), row(4, 10), row(2, 11)];
    expect(inPageOrder(rows)).toBe(rows);
    expect(rows.map((r) => r[0])).toEqual([1, 4, 2]);
  });
});
