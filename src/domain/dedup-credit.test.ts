import { describe, expect, it } from 'vitest';
import type { Attribution, MatchKey } from './attribution.js';
import { dedupRowIndex } from './dedup-credit.js';

const T = 1_763_900_000;

function credit(type: 'click' | 'view', key: MatchKey, ago_s: number, id = 'x'): Attribution {
  return {
    type,
    imp_id: type === 'view' ? `imp-${id}` : null,
    click_id: type === 'click' ? `clk-${id}` : null,
    campaign_id: `c-${id}`,
    creative_id: null,
    placement_id: null,
    touch_time: T - ago_s,
    match_key: key,
    match_type: key === 'ip' || key === 'ip+ua' ? 'probabilistic' : 'deterministic',
    window: '1d',
    model: 'last_touch',
  };
}

describe('the deduplicated view: one row per conversion', () => {
  it('DD01 a deterministic impression beats an ip click credited by another destination', () => {
    const rows = [
      { dest_id: 'meta', attribution: credit('click', 'ip', 60, 'office') },
      { dest_id: 'dsp', attribution: credit('view', 'cookie', 3600, 'own') },
    ];
    expect(dedupRowIndex(rows)).toBe(1);
  });

  it('DD02 inside one class the latest touch wins, whichever destination credited it', () => {
    const rows = [
      { dest_id: 'a', attribution: credit('click', 'cookie', 7200, '1') },
      { dest_id: 'b', attribution: credit('click', 'user_id', 60, '2') },
      { dest_id: 'c', attribution: null },
    ];
    expect(dedupRowIndex(rows)).toBe(1);
    expect(dedupRowIndex([rows[2], rows[0]])).toBe(1);
  });

  it('DD03 the stronger key breaks a tie of time; the same touch twice goes to the smaller id', () => {
    const tie = [
      { dest_id: 'a', attribution: credit('view', 'cookie', 60, '1') },
      { dest_id: 'b', attribution: credit('view', 'user_id', 60, '2') },
    ];
    expect(dedupRowIndex(tie)).toBe(1);
    const same = credit('view', 'cookie', 60, 'shared');
    expect(
      dedupRowIndex([
        { dest_id: 'z', attribution: same },
        { dest_id: 'b', attribution: same },
      ]),
    ).toBe(1);
  });

  it('DD04 with no credit the smallest destination stands for the conversion; none: -1', () => {
    expect(
      dedupRowIndex([
        { dest_id: 'm', attribution: null },
        { dest_id: 'g', attribution: null },
      ]),
    ).toBe(1);
    expect(dedupRowIndex([])).toBe(-1);
  });
});
