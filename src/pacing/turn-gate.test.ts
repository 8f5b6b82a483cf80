import { describe, expect, it } from 'vitest';
import { turnGate } from './turn-gate.js';

describe('turnGate', () => {
  it('TG01 answers nothing to wait for within the budget, then one turn shared by every caller', async () => {
    let now = 0;
    const realNow = performance.now.bind(performance);
    performance.now = () => now;
    try {
      const gate = turnGate(10);
      now = 5;
      expect(gate()).toBeUndefined();
      now = 11;
      const a = gate();
      const b = gate();
      expect(a).toBeInstanceOf(Promise);
      expect(b).toBe(a);
      await a;
      // The budget starts again after the turn.
      now = 15;
      expect(gate()).toBeUndefined();
    } finally {
      performance.now = realNow;
    }
  });
});
