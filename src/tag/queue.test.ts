import { describe, expect, it } from 'vitest';
import { type Command, installQueue } from './queue.js';

type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[]; loaded?: boolean };

/** A page with the loader stub holding `calls`, and a tag whose start is in the test's hands. */
function page(...calls: unknown[][]) {
  const stub: Stub = (...args) => {
    stub.q = stub.q || [];
    stub.q.push(args);
  };
  for (const call of calls) stub(...call);
  const w: { pixeltrail?: Stub } = { pixeltrail: stub };
  const ran: Command[] = [];
  const starts: (() => void)[] = [];
  let replays = 0;
  const install = () =>
    installQueue(
      w,
      (task) => starts.push(task),
      () => ({ run: (c) => ran.push(c), replayed: () => replays++ }),
    );
  return { w, ran, starts, install, replays: () => replays };
}

describe('installQueue', () => {
  it('Q01 holds the stub’s calls and the page’s next ones until started, then runs them in order', () => {
    const p = page(['init', 'env_demo'], ['track', 'Lead']);
    p.install();
    p.w.pixeltrail!('track', 'Later');
    expect(p.ran).toEqual([]);
    expect(p.starts).toHaveLength(1);
    p.starts[0]();
    expect(p.ran).toEqual([
      ['init', 'env_demo'],
      ['track', 'Lead'],
      ['track', 'Later'],
    ]);
    expect(p.replays()).toBe(1);
  });

  it('Q02 once started, a call runs as it is made', () => {
    const p = page();
    p.install();
    p.starts[0]();
    p.w.pixeltrail!('page');
    expect(p.ran).toEqual([['page']]);
  });

  it('Q03 a page without the stub can call pixeltrail at once: the call waits like the stub’s', () => {
    const p = page();
    delete p.w.pixeltrail;
    p.install();
    p.w.pixeltrail!('init', 'env_demo');
    p.starts[0]();
    expect(p.ran).toEqual([['init', 'env_demo']]);
  });

  it('Q04 a second copy of the tag neither takes over nor replays', () => {
    const p = page(['init', 'env_demo']);
    p.install();
    const first = p.w.pixeltrail;
    p.install();
    expect(p.w.pixeltrail).toBe(first);
    expect(p.starts).toHaveLength(1);
  });
});
