import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  openSqliteStore,
  SQLITE_FILE,
  WAL_BACKSTOP_PAGES,
} from '../../src/store/sqlite/open-sqlite.js';
import type { CheckpointResult } from '../../src/store/sqlite/wal-checkpointer.js';
import {
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/pixeltrail.js';

const EVENTS = 3_000;
const PER_REQUEST = 10;
const CONCURRENT = 8;
/** A low threshold, so a few thousand events cross it many times. */
const PAGES = 64;

describe('WAL checkpoints off the event loop (issue 22)', () => {
  it('W01 a few thousand events are checkpointed by the thread; the main connection only keeps a backstop; all there after reopening', async () => {
    const dir = tempDir();
    const results: CheckpointResult[] = [];
    const store = openSqliteStore(dir, {
      pages: PAGES,
      intervalMs: 10,
      onCheckpoint: (r) => results.push(r),
    });
    await store.migrate();
    const { server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), dir, {
      store,
    });
    try {
      let next = 0;
      const sender = async () => {
        while (next < EVENTS / PER_REQUEST) {
          const i = next++;
          const events = Array.from({ length: PER_REQUEST }, (_, j) =>
            purchase(`w01-${i * PER_REQUEST + j}`),
          );
          expect((await postEvents(base, events)).status).toBe(200);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENT }, sender));
      await waitFor(() => results.some((r) => r.checkpointed > 0));
      const { rows } = await sql<{
        wal_autocheckpoint: number;
      }>`PRAGMA wal_autocheckpoint`.execute(store.db);
      expect(rows[0]?.wal_autocheckpoint).toBe(WAL_BACKSTOP_PAGES);
      // The -wal file never shrinks while open: its size is the most the WAL ever held, and
      // that stayed under the backstop, so no commit of the event loop's connection could
      // have checkpointed (its autocheckpoint runs only past WAL_BACKSTOP_PAGES frames).
      const page = await sql<{ page_size: number }>`PRAGMA page_size`.execute(store.db);
      const frameBytes = (page.rows[0]?.page_size ?? 0) + 24;
      const mostFrames = (statSync(path.join(dir, `${SQLITE_FILE}-wal`)).size - 32) / frameBytes;
      expect(mostFrames).toBeLessThan(WAL_BACKSTOP_PAGES);
    } finally {
      await server.close();
    }
    // Closed whole: the WAL is checkpointed and removed, every answered event is in the file.
    const file = path.join(dir, SQLITE_FILE);
    expect(existsSync(`${file}-wal`)).toBe(false);
    const db = new BetterSqlite3(file, { readonly: true });
    try {
      const n = db.prepare("SELECT COUNT(*) FROM events WHERE event_id LIKE 'w01-%'").pluck().get();
      expect(n).toBe(EVENTS);
    } finally {
      db.close();
    }
  });
});
