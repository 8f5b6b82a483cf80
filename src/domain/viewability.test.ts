import { describe, expect, it } from 'vitest';
import {
  type ImpressionView,
  mergeViewBatch,
  mergeViews,
  notViewableReason,
  parseViewSignal,
  viewOf,
} from './viewability.js';

const read = (q: Record<string, string>) => parseViewSignal((k) => q[k]);
const ids = { env_id: 'e', imp_id: 'I', dest_id: 'd' };

describe('viewability signals', () => {
  it('VS01 reads what the tag sends', () => {
    expect(read({ served: '1', measurable: '1' })).toEqual({
      ok: true,
      signal: { measurable: true },
    });
    expect(read({ viewable: '1', ttv_ms: '1000', max_share: '1.00', video: '1' })).toEqual({
      ok: true,
      signal: { viewable: true, time_to_view_ms: 1000, max_share: 1, video: true },
    });
    expect(read({ measurable: '1', viewable: '0', max_share: '0.40' })).toEqual({
      ok: true,
      signal: { measurable: true, viewable: false, max_share: 0.4 },
    });
  });

  it.each([
    [{ measurable: 'yes' }, 'bad_measurable'],
    [{ viewable: '1', measurable: '0' }, 'bad_viewable'],
    [{ viewable: '1', ttv_ms: '1.5' }, 'bad_ttv_ms'],
    [{ viewable: '1', ttv_ms: '86400001' }, 'bad_ttv_ms'],
    [{ measurable: '1', ttv_ms: '10' }, 'bad_ttv_ms'],
    [{ viewable: '1', max_share: '-0' }, 'bad_max_share'],
    [{ viewable: '1', max_share: '1.01' }, 'bad_max_share'],
    [{ viewable: '1', max_share: '0x1' }, 'bad_max_share'],
    [{ video: '1' }, 'empty_signal'],
    [{}, 'empty_signal'],
  ])('VS02 %j is refused as %s', (q, reason) => {
    expect(read(q)).toEqual({ ok: false, reason });
  });

  it('VS03 a viewable signal implies measurable; ttv is kept only when viewable', () => {
    const v = viewOf(ids, { viewable: true, time_to_view_ms: 1200 }, 5);
    expect(v).toMatchObject({ measurable: true, viewable: true, time_to_view_ms: 1200 });
    expect(viewOf(ids, { measurable: false }, 5)).toMatchObject({
      measurable: false,
      viewable: false,
      time_to_view_ms: null,
      max_share: null,
    });
  });

  it('VS04 merging is order-free: flags stay set, earliest ttv, largest share and first time win', () => {
    const rows: ImpressionView[] = [
      viewOf(ids, { measurable: true, max_share: 0.3 }, 10),
      viewOf(ids, { viewable: true, time_to_view_ms: 1500, max_share: 0.9 }, 30),
      viewOf(ids, { viewable: true, time_to_view_ms: 1100, max_share: 0.6 }, 20),
      viewOf(ids, { measurable: false }, 40),
    ];
    const forward = rows.reduce(mergeViews);
    const backward = [...rows].reverse().reduce(mergeViews);
    expect(forward).toEqual(backward);
    expect(forward).toMatchObject({
      measurable: true,
      viewable: true,
      time_to_view_ms: 1100,
      max_share: 0.9,
      dest_id: 'd',
      first_ms: 10,
      updated_ms: 40,
    });
    expect(
      mergeViewBatch([...rows, viewOf({ ...ids, imp_id: 'J' }, { measurable: true }, 1)]),
    ).toHaveLength(2);
  });

  it('VS05 says why an impression was never viewable', () => {
    expect(notViewableReason('IMP-9', undefined)).toBe(
      'impression IMP-9 was served but never viewable (not measured: no viewability tag ran with it)',
    );
    expect(notViewableReason('IMP-9', viewOf(ids, { measurable: false }, 1))).toBe(
      'impression IMP-9 was served but never viewable (the tag could not measure it)',
    );
    expect(notViewableReason('IMP-9', viewOf(ids, { measurable: true, max_share: 0.4 }, 1))).toBe(
      'impression IMP-9 was served but never viewable (at most 40 % of it in view)',
    );
    expect(notViewableReason('IMP-9', viewOf(ids, { measurable: true, max_share: 1 }, 1))).toBe(
      'impression IMP-9 was served but never viewable (in view, but never for a continuous second)',
    );
  });
});
