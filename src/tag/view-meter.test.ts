import { describe, expect, it } from 'vitest';
import { viewMeter } from './view-meter.js';

/** A stepped clock with timers: `run(ms)` moves time on, firing what falls due in order. */
function steppedClock() {
  let now = 1_000;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  return {
    now: () => now,
    wait: (fn: () => void, ms: number) => {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return () => {
        timers = timers.filter((t) => t.id !== id);
      };
    },
    run(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

function meter(needMs = 1000) {
  const clock = steppedClock();
  const seen: Array<[number, number]> = [];
  const m = viewMeter(needMs, clock.now, clock.wait, (ttv, max) => seen.push([ttv, max]));
  return { clock, m, seen };
}

describe('MRC view meter', () => {
  it('VM01 half the ad in view for a continuous second is viewable, once', () => {
    const { clock, m, seen } = meter();
    clock.run(300);
    m.share(0.5);
    clock.run(999);
    expect(seen).toEqual([]);
    clock.run(1);
    expect(seen).toEqual([[1300, 0.5]]);
    m.share(0);
    m.share(1);
    clock.run(5000);
    expect(seen).toHaveLength(1);
  });

  it('VM02 leaving view restarts the second; 0.49 is not half', () => {
    const { clock, m, seen } = meter();
    m.share(1);
    clock.run(900);
    m.share(0.49);
    clock.run(5000);
    m.share(0.8);
    clock.run(999);
    expect(seen).toEqual([]);
    clock.run(1);
    expect(seen).toEqual([[6900, 1]]);
  });

  it('VM03 a hidden page is not in view, and what it shows is not the largest share', () => {
    const { clock, m, seen } = meter();
    m.hidden(true);
    m.share(1);
    clock.run(3000);
    expect(seen).toEqual([]);
    expect(m.max()).toBe(0);
    m.hidden(false);
    clock.run(1000);
    expect(seen).toEqual([[4000, 1]]);
  });

  it('VM04 a stretch that lasted long enough counts even if its timer comes late', () => {
    const clock = steppedClock();
    const seen: number[] = [];
    // A timer the page runs late (a busy main thread): it never fires before we leave view.
    const late = (_fn: () => void, _ms: number) => () => {};
    const m = viewMeter(1000, clock.now, late, (ttv) => seen.push(ttv));
    m.share(0.7);
    clock.run(1500);
    m.share(0);
    expect(seen).toEqual([1000]);
  });

  it('VM05 video needs two seconds', () => {
    const { clock, m, seen } = meter(2000);
    m.share(1);
    clock.run(1999);
    expect(seen).toEqual([]);
    clock.run(1);
    expect(seen).toEqual([[2000, 1]]);
  });
});
