import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// idle.ts runs at the page's idle time; here the idle times are the test's to give.
const idleTimes: Array<() => void> = [];
let idle: typeof import('./idle.js');

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  vi.stubGlobal('addEventListener', () => {});
  vi.stubGlobal('window', { requestIdleCallback: (run: () => void) => idleTimes.push(run) });
  idle = await import('./idle.js');
});
afterAll(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('whenIdle', () => {
  it('I01 a task queued by a running task waits for a read queued before it, whatever idle time comes first', async () => {
    const ran: string[] = [];
    let settle = () => {};
    const read = new Promise<void>((r) => {
      settle = r;
    });
    // The tracker's first commands, run at idle time, queue the cookie read and the ids.
    idle.whenIdle(() => {
      ran.push('tracker');
      idle.whenIdle(() => {
        ran.push('read');
        return read;
      });
      idle.whenIdle(() => {
        ran.push('ids');
      });
    });
    // Every idle time asked for comes before the read settles (a loaded machine).
    while (idleTimes.length > 0) idleTimes.shift()?.();
    expect(ran).toEqual(['tracker', 'read']);
    settle();
    await read;
    await Promise.resolve();
    expect(ran).toEqual(['tracker', 'read', 'ids']);
  });
});
