import { describe, expect, it } from 'vitest';
import type { Touch } from '../domain/event.js';
import { VisitGate } from './visit-gate.js';

const visit = (touch_id: string, time: number, env_id = 'e'): Touch => ({
  env_id,
  kind: 'visit',
  touch_id,
  dest_id: null,
  campaign_id: null,
  creative_id: null,
  placement_id: null,
  time,
  anonymous_id: 'a',
  user_id: null,
  ip: null,
  user_agent: null,
});

describe('visit gate', () => {
  it('VG01 repeats of a visit within 30 min are held back, the 30-min pause starts a new one', () => {
    const g = new VisitGate();
    expect(g.admit(visit('v1', 1000))).toBe(true);
    expect(g.admit(visit('v1', 1000))).toBe(false);
    expect(g.admit(visit('v1', 1000 + 1700))).toBe(false);
    // 1,700 s after the last copy seen, not after the first: the visit went on.
    expect(g.admit(visit('v1', 1000 + 3400))).toBe(false);
    expect(g.admit(visit('v1', 1000 + 3400 + 1800))).toBe(true);
    expect(g.admit(visit('v2', 1000))).toBe(true);
    expect(g.admit(visit('v1', 1000, 'other-env'))).toBe(true);
  });

  it('VG02 bounded: past its size the oldest is forgotten and written again, never lost', () => {
    const g = new VisitGate(2);
    expect(g.admit(visit('a', 1))).toBe(true);
    expect(g.admit(visit('b', 1))).toBe(true);
    expect(g.admit(visit('c', 1))).toBe(true);
    expect(g.admit(visit('b', 2))).toBe(false);
    expect(g.admit(visit('a', 2))).toBe(true);
  });
});
