import { describe, expect, it } from 'vitest';
import type { TrackedEvent } from './event.js';
import { eventDiagnostics } from './event-diagnostics.js';

const T = 1_763_900_000;
const ev = (over: Partial<TrackedEvent> = {}): TrackedEvent => ({
  env_id: 'e',
  event_name: 'Purchase',
  event_id: 'o1',
  event_time: T,
  source: 'server',
  user: { anonymous_id: 'a', ip: '203.0.113.9', user_agent: 'UA' },
  properties: {},
  consent: { ads: null, analytics: null },
  warnings: [],
  ...over,
});

describe('event diagnostics', () => {
  it('G01 a well-keyed, timely event has no warnings', () => {
    expect(eventDiagnostics(ev(), T * 1000 + 2000)).toEqual([]);
  });

  it('G02 validation warnings are kept; no match key and skew are added', () => {
    const d = eventDiagnostics(
      ev({ user: {}, warnings: ['value without currency'] }),
      (T + 3600) * 1000,
    );
    expect(d[0]).toBe('value without currency');
    expect(d[1]).toMatch(/^no match key/);
    expect(d[2]).toBe(
      'event_time skew: 60 min before arrival (late upload, or clock or unit error?)',
    );
  });

  it('G03 test-mode events say they are not delivered', () => {
    expect(eventDiagnostics(ev({ test_code: 'TEST1' }), T * 1000)).toEqual([
      "test mode (TEST1): sent only to platforms' test channels, not in reports",
    ]);
  });

  it('G09 an app event keyed by its device id or a Play install referrer has a match key', () => {
    expect(eventDiagnostics(ev({ user: { gaid: 'g1' } }), T * 1000)).toEqual([]);
    expect(eventDiagnostics(ev({ user: { install_referrer_click_id: 'c1' } }), T * 1000)).toEqual(
      [],
    );
  });
});
