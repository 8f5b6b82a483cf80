import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import type { Store } from '../../src/store/store.js';
import { startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

// A server stopped (a deploy, SIGTERM) while its retention purge runs: the store used to
// close under the purge, whose next statement then failed and was logged as a failed purge.

describe('closing a server', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('SC01 a purge under way ends before the store closes', async () => {
    const inner = openSqliteStore(dir);
    const order: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = () => {};
    const purgeStarted = new Promise<void>((r) => {
      started = r;
    });
    // The store as the server sees it, with a purge that waits for the test's word.
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'purge')
          return async (...a: Parameters<Store['purge']>) => {
            started();
            await gate;
            const report = await target.purge(...a);
            order.push('purge ended');
            return report;
          };
        if (key === 'close')
          return async () => {
            order.push('store closed');
            await target.close();
          };
        return Reflect.get(target, key, receiver);
      },
    });
    const { server } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), dir, {
      store,
    });
    await purgeStarted;
    const closing = server.close();
    // The close runs up to what it waits for; the purge is let go only then.
    await new Promise((r) => setImmediate(r));
    release();
    await closing;
    expect(order).toEqual(['purge ended', 'store closed']);
  });
});
