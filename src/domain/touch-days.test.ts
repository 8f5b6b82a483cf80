import { describe, expect, it } from 'vitest';
import type { Touch } from './event.js';
import { touchDays } from './touch-days.js';

const touch = (over: Partial<Touch>): Touch => ({
  env_id: 'e',
  kind: 'impression',
  touch_id: 'i',
  dest_id: 'd1',
  campaign_id: 'c1',
  creative_id: null,
  placement_id: null,
  time: 86_400 * 20_000 + 5,
  anonymous_id: null,
  user_id: null,
  ip: null,
  user_agent: null,
  ...over,
});

describe('touch day counts', () => {
  it('TD01 a batch collapses to one row per day and key; missing ids become empty', () => {
    const rows = touchDays([
      touch({}),
      touch({ touch_id: 'j' }),
      touch({ kind: 'click' }),
      touch({ time: 86_400 * 20_001 }),
      touch({ campaign_id: null, dest_id: null }),
    ]);
    expect(rows).toEqual([
      {
        env_id: 'e',
        day: 20_000,
        kind: 'impression',
        dest_id: 'd1',
        campaign_id: 'c1',
        creative_id: '',
        n: 2,
      },
      {
        env_id: 'e',
        day: 20_000,
        kind: 'click',
        dest_id: 'd1',
        campaign_id: 'c1',
        creative_id: '',
        n: 1,
      },
      {
        env_id: 'e',
        day: 20_001,
        kind: 'impression',
        dest_id: 'd1',
        campaign_id: 'c1',
        creative_id: '',
        n: 1,
      },
      {
        env_id: 'e',
        day: 20_000,
        kind: 'impression',
        dest_id: '',
        campaign_id: '',
        creative_id: '',
        n: 1,
      },
    ]);
  });
});
