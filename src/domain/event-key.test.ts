import { describe, expect, it } from 'vitest';
import { eventKey, receivedMsOfKey } from './event-key.js';

describe('event keys', () => {
  it('carry the receive time, to the millisecond', () => {
    const ms = 1_795_000_123_456;
    const key = eventKey(ms, 'Rnd_-x');
    expect(key.startsWith('ev_')).toBe(true);
    expect(key.endsWith('Rnd_-x')).toBe(true);
    expect(receivedMsOfKey(key)).toBe(ms);
  });

  it('sort by receive time', () => {
    expect(eventKey(999, 'z') < eventKey(1000, 'a')).toBe(true);
  });

  it('answer null for keys without a time (made before they carried one)', () => {
    expect(receivedMsOfKey('ev_AbCdEfGhIjKlMnOp')).toBeNull();
    expect(receivedMsOfKey('ev_abcdefghi_jkl')).toBeNull();
    expect(receivedMsOfKey('ev_x')).toBeNull();
    expect(receivedMsOfKey('other')).toBeNull();
  });
});
