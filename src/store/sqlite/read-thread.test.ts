import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loopTurnsDuring } from '../../../test/helpers/loop-turns.js';
import { ReadThread } from './read-thread.js';

/** A WAL database with a table `t (id, v)`, and the main connection to it. */
function database(): { file: string; db: BetterSqlite3.Database } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'pt-read-')), 'pixeltrail.db');
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.exec('create table t (id integer primary key, v text, b blob)');
  return { file, db };
}

/** Rows made one by one in SQL: a read that takes as long as `n` says. */
const COUNT_TO =
  'with recursive c(x) as (select 1 union all select x + 1 from c where x < ?) select count(*) as n from c';

let open: Array<{ thread: ReadThread; db: BetterSqlite3.Database }> = [];
afterEach(async () => {
  for (const o of open) {
    await o.thread.close();
    o.db.close();
  }
  open = [];
});

function started() {
  const { file, db } = database();
  const thread = new ReadThread(file);
  open.push({ thread, db });
  return { thread, db };
}

describe('ReadThread', () => {
  it('RT01 a long read leaves the event loop turning, and gives its rows', async () => {
    const { thread } = started();
    const { value: rows, turns } = await loopTurnsDuring(() => thread.query(COUNT_TO, [2_000_000]));
    expect(rows).toEqual([{ n: 2_000_000 }]);
    // On the main connection the read would run to its end before any turn of the loop.
    expect(turns).toBeGreaterThan(10);
  });

  it('RT02 reads what the main connection committed before the read was asked', async () => {
    const { thread, db } = started();
    const insert = db.prepare('insert into t (id, v) values (?, ?)');
    for (let i = 1; i <= 50; i++) {
      insert.run(i, `v${i}`);
      const read = 'select count(*) as n, (select v from t order by id desc limit 1) as v from t';
      expect(await thread.query(read, [])).toEqual([{ n: i, v: `v${i}` }]);
    }
  });

  it('RT03 refuses to write: a statement without rows fails and nothing changes', async () => {
    const { thread, db } = started();
    db.prepare('insert into t (id, v) values (1, ?)').run('kept');
    await expect(thread.query('update t set v = ?', ['lost'])).rejects.toThrow(/rows only/);
    // `query_only` refuses a write that returns rows too.
    await expect(thread.query('delete from t returning id', [])).rejects.toThrow(
      /readonly|read-only|query_only/i,
    );
    expect(db.prepare('select v from t').all()).toEqual([{ v: 'kept' }]);
    expect(await thread.query('select v from t', [])).toEqual([{ v: 'kept' }]);
  });

  it('RT04 a BLOB comes back as a Buffer, as from the main connection', async () => {
    const { thread, db } = started();
    db.prepare('insert into t (id, b) values (1, ?)').run(Buffer.from('pixel'));
    const [row] = await thread.query('select b from t', []);
    expect(Buffer.isBuffer(row?.b)).toBe(true);
    expect(String(row?.b)).toBe('pixel');
  });

  it('RT05 a thread that dies fails the read in flight, and the next read starts another', async () => {
    const { thread } = started();
    expect(await thread.query('select 1 as one', [])).toEqual([{ one: 1 }]);
    const reading = thread.query(COUNT_TO, [1_000_000]);
    await (thread as unknown as { worker: Worker }).worker.terminate();
    await expect(reading).rejects.toThrow(/read thread/);
    expect(await thread.query('select 2 as two', [])).toEqual([{ two: 2 }]);
  });

  it('RT06 close answers the reads sent before it, and refuses those after', async () => {
    const { thread } = started();
    const before = thread.query(COUNT_TO, [100_000]);
    const closing = thread.close();
    await expect(thread.query('select 1', [])).rejects.toThrow(/closed/);
    expect(await before).toEqual([{ n: 100_000 }]);
    await closing;
  });

  it("RT07 a bad query fails alone, with SQLite's code: the thread goes on reading", async () => {
    const { thread } = started();
    const failed = thread.query('select nope from t', []);
    await expect(failed).rejects.toThrow(/no such column/);
    await expect(failed).rejects.toMatchObject({ code: 'SQLITE_ERROR' });
    expect(await thread.query('select count(*) as n from t', [])).toEqual([{ n: 0 }]);
  });

  it('RT08 a close under way keeps the thread holding the process until it has ended', async () => {
    const { thread } = started();
    // Started, and idle: the thread no longer holds the process.
    expect(await thread.query('select 1 as one', [])).toEqual([{ one: 1 }]);
    const worker = (thread as unknown as { worker: Worker }).worker;
    let unrefs = 0;
    const unref = worker.unref.bind(worker);
    worker.unref = () => {
      unrefs++;
      unref();
    };
    // The read's answer comes after the close began: were the thread let go then, a process
    // with nothing else to do would exit before the store had closed.
    const reading = thread.query(COUNT_TO, [100_000]);
    const closing = thread.close();
    expect(await reading).toEqual([{ n: 100_000 }]);
    await closing;
    expect(unrefs).toBe(0);
  });
});
