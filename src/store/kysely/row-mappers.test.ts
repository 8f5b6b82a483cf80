import type { Selectable } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { TouchesTable } from '../schema.js';
import { TOUCH_COLUMNS } from './ingest-columns.js';
import { touchFromRow, touchFromValues } from './row-mappers.js';

const rows: Selectable<TouchesTable>[] = [
  {
    id: 7,
    env_id: 'env',
    kind: 'visit',
    touch_id: 'v_1',
    dest_id: null,
    campaign_id: null,
    creative_id: null,
    placement_id: null,
    time: 1_763_900_000,
    anonymous_id: 'anon-1',
    user_id: null,
    ip: 'h:Zs1HhO79ViU9Pbd_oFFp3z',
    user_agent: 'UA',
    traffic: null,
    traffic_source: JSON.stringify({ source: 'google', medium: 'organic', by: 'referrer' }),
  },
  {
    id: 8,
    env_id: 'env',
    kind: 'click',
    touch_id: 'CLK-1',
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: 'cr1',
    placement_id: 'p1',
    time: 1_763_900_100,
    anonymous_id: null,
    user_id: 'u1',
    ip: null,
    user_agent: null,
    traffic: 'bot',
    traffic_source: null,
  },
];

describe('touch row mappers', () => {
  it('RM01 a touch read as an array of values is the touch read as an object', () => {
    for (const row of rows)
      expect(touchFromValues(TOUCH_COLUMNS.map((c) => row[c]))).toEqual(touchFromRow(row));
  });
});
