import { describe, expect, it } from 'vitest';
import type { TrackedEvent } from './event.js';
import { gradeDestination, gradeSource, matchQuality } from './health.js';

const ev = (user: TrackedEvent['user']): TrackedEvent => ({
  env_id: 'e',
  event_name: 'Purchase',
  event_id: 'x',
  event_time: 1,
  source: 'server',
  user,
  properties: {},
  consent: { ads: null, analytics: null },
  warnings: [],
});
const NOW = 1_800_000_000_000;

describe('health', () => {
  it('H01 match quality weighs the keys events carry and advises on the missing ones', () => {
    const q = matchQuality([
      ev({ email_sha256: 'a', anonymous_id: 'c', ip: '1', user_agent: 'u' }),
      ev({ anonymous_id: 'c', ip: '1', user_agent: 'u' }),
    ]);
    expect(q.coverage).toMatchObject({ email: 0.5, cookie: 1, user_id: 0 });
    expect(q.score).toBe(5.5);
    expect(q.advice.map((a) => a.split(' ')[0])).toEqual(['user_id', 'phone']);
    expect(matchQuality([]).score).toBe(0);
  });

  it('H02 a source is red after an hour of silence, amber on heavy duplicates or poor keys', () => {
    expect(gradeSource(NOW - 61 * 60_000, NOW, 0, 8).light).toBe('red');
    expect(gradeSource(NOW - 20 * 60_000, NOW, 0, 8).light).toBe('amber');
    expect(gradeSource(NOW, NOW, 0.6, 8).reason).toBe('60 % duplicates: check event ids');
    expect(gradeSource(NOW, NOW, 0, 2).light).toBe('amber');
    expect(gradeSource(NOW, NOW, 0.1, 8)).toEqual({
      light: 'green',
      reason: 'receiving, well keyed',
    });
    expect(gradeSource(null, NOW, 0, 0).reason).toBe('no events in the last 24 h');
  });

  it('H03 a destination is red when paused or failing, amber when its backlog ages', () => {
    expect(gradeDestination('HTTP 401', 1, 0, null)).toEqual({
      light: 'red',
      reason: 'paused: HTTP 401',
    });
    expect(gradeDestination(null, 0.5, 0, null).light).toBe('red');
    expect(gradeDestination(null, 1, 30, 90).reason).toBe('30 waiting, oldest 90 min');
    expect(gradeDestination(null, 0.95, 0, null).light).toBe('amber');
    expect(gradeDestination(null, null, 0, null).light).toBe('green');
  });
});
