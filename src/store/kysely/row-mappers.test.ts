import type { Selectable } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { TrackedEvent } from '../../domain/event.js';
import type { ConversionRecord } from '../records.js';
import type { TouchesTable } from '../schema.js';
import { CONVERSION_COLUMNS, EVENT_COLUMNS, TOUCH_COLUMNS } from './ingest-columns.js';
import {
  conversionToRow,
  conversionValues,
  eventToRow,
  eventValues,
  touchFromRow,
  touchFromValues,
} from './row-mappers.js';

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

const events: TrackedEvent[] = [
  {
    env_id: 'env',
    event_name: 'Purchase',
    event_id: 'o-1',
    event_time: 1_763_900_000,
    source: 'server',
    user: { anonymous_id: 'anon-1', user_id: 'u1', ip: '203.0.113.9' },
    properties: { value: 12.5, currency: 'EUR' },
    consent: { ads: true, analytics: null },
    warnings: [],
    traffic: 'bot',
    test_code: 'TEST1',
  },
  {
    env_id: 'env',
    event_name: 'Lead',
    event_id: 'o-2',
    event_time: 1_763_900_001,
    source: 'tag',
    user: {},
    properties: {},
    consent: { ads: null, analytics: null },
    warnings: ['no event_id: browser and server copies cannot be deduplicated'],
    traffic: 'human',
  },
];

const conversions: ConversionRecord[] = [
  {
    conversion_id: 'cv_1',
    dest_id: 'dsp1',
    env_id: 'env',
    event_pk: 'ev_1',
    event_name: 'Purchase',
    event_id: 'o-1',
    event_time: 1_763_900_000,
    value: 12.5,
    currency: 'EUR',
    attribution: {
      type: 'click',
      touch_id: 'CLK-1',
      click_id: 'CLK-1',
      campaign_id: 'c1',
      creative_id: 'cr1',
      touch_time: 1_763_899_000,
      match_key: 'click_id',
      match_type: 'deterministic',
    } as unknown as ConversionRecord['attribution'],
    reason: null,
    created_at_ms: 1_763_900_000_123,
    test: true,
    fraud: ['click_flooding'],
    fraud_verdicts: { flooding: [] } as unknown as ConversionRecord['fraud_verdicts'],
  },
  {
    conversion_id: 'cv_2',
    dest_id: 'dsp2',
    env_id: 'env',
    event_pk: 'ev_2',
    event_name: 'Lead',
    event_id: 'o-2',
    event_time: 1_763_900_001,
    value: null,
    currency: null,
    attribution: null,
    reason: 'no touch',
    created_at_ms: 1_763_900_000_456,
    dedup_row: true,
    fraud: [],
  },
];

describe('written row values', () => {
  it('RM02 an event written as values is its row in EVENT_COLUMNS order', () => {
    for (const e of events) {
      const row = eventToRow('ev_1', e, 1_763_900_000_123);
      expect(eventValues('ev_1', e, 1_763_900_000_123)).toEqual(EVENT_COLUMNS.map((c) => row[c]));
    }
  });

  it('RM03 a conversion written as values is its row in CONVERSION_COLUMNS order', () => {
    for (const c of conversions) {
      const row = conversionToRow(c);
      expect(conversionValues(c)).toEqual(CONVERSION_COLUMNS.map((k) => row[k]));
    }
  });
});
