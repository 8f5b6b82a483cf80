import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../../test/helpers/touch.js';
import { MAX_KNOWN_ADDRESSES, TouchCache } from './touch-cache.js';

const visitAt = touchMaker({
  time: 1_763_900_000,
  anonymous_id: null,
  ip: '203.0.113.9',
  user_agent: 'UA',
});
const touch = (touch_id: string) =>
  visitAt({
    kind: 'visit',
    touch_id,
    dest_id: null,
    campaign_id: null,
    traffic_source: { source: 'google', medium: 'organic', by: 'referrer' },
  });

describe('TouchCache', () => {
  it('TC01 gives back the touch kept under an id, frozen with its traffic source', () => {
    const cache = new TouchCache();
    cache.add(7, touch('VIS-7'));
    const kept = cache.get(7);
    expect(kept?.touch_id).toBe('VIS-7');
    expect(Object.isFrozen(kept)).toBe(true);
    expect(Object.isFrozen(kept?.traffic_source)).toBe(true);
    expect(cache.get(8)).toBeUndefined();
  });

  it('TC02 when full, the touch kept first goes', () => {
    const cache = new TouchCache(2);
    cache.add(1, touch('VIS-1'));
    cache.add(2, touch('VIS-2'));
    cache.add(3, touch('VIS-3'));
    expect([cache.get(1), cache.get(2)?.touch_id, cache.get(3)?.touch_id]).toEqual([
      undefined,
      'VIS-2',
      'VIS-3',
    ]);
    expect(cache.size).toBe(2);
  });

  it('TC03 clear forgets every touch', () => {
    const cache = new TouchCache();
    cache.add(1, touch('VIS-1'));
    cache.clear();
    expect(cache.get(1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('TC04 knows an address read whole until cleared, or until more than it keeps come', () => {
    const cache = new TouchCache();
    expect(cache.knows('env\n203.0.113.9')).toBe(false);
    cache.noteAddress('env\n203.0.113.9');
    expect(cache.knows('env\n203.0.113.9')).toBe(true);
    expect(cache.knows('other\n203.0.113.9')).toBe(false);
    cache.clear();
    expect(cache.knows('env\n203.0.113.9')).toBe(false);
    for (let i = 0; i <= MAX_KNOWN_ADDRESSES; i++) cache.noteAddress(`env\n10.0.${i}`);
    expect(cache.knows('env\n10.0.0')).toBe(false);
    expect(cache.knows(`env\n10.0.${MAX_KNOWN_ADDRESSES}`)).toBe(true);
  });
});
