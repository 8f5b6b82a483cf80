import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { LiteralLimitSqliteDialect } from './literal-limits.js';
import { openSqliteStore } from './open-sqlite.js';

interface Db {
  t: { n: number };
}

describe('whole-number limits written into SQLite statements', () => {
  const sqlite = new BetterSqlite3(':memory:');
  sqlite.exec('create table t (n integer)');
  for (let n = 0; n < 20; n++) sqlite.prepare('insert into t values (?)').run(n);
  const db = new Kysely<Db>({ dialect: new LiteralLimitSqliteDialect({ database: sqlite }) });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pt-limits-'));
  const store = openSqliteStore(dir);
  afterAll(async () => {
    await db.destroy();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('LL01 a whole LIMIT and OFFSET are in the text, not bound, and read the same rows', async () => {
    const q = db.selectFrom('t').select('n').where('n', '>=', 3).orderBy('n').limit(4).offset(2);
    const c = q.compile();
    expect(c.sql).toBe('select "n" from "t" where "n" >= ? order by "n" limit 4 offset 2');
    expect(c.parameters).toEqual([3]);
    expect((await q.execute()).map((r) => r.n)).toEqual([5, 6, 7, 8]);
  });

  it('LL02 anything but a safe integer stays a parameter', () => {
    const frac = db.selectFrom('t').select('n').limit(2.5).compile();
    expect(frac.sql).toBe('select "n" from "t" limit ?');
    expect(frac.parameters).toEqual([2.5]);
    const expr = db.selectFrom('t').select('n').limit(sql<number>`1 + 1`).compile();
    expect(expr.sql).toBe('select "n" from "t" limit 1 + 1');
  });

  it('LL03 the store’s connection and its read thread compile limits so', () => {
    const main = store.db.selectFrom('touches').select('id').limit(7).compile();
    const read = store.readDb.selectFrom('touches').select('id').limit(7).compile();
    expect(main.sql).toMatch(/limit 7$/);
    expect(read.sql).toMatch(/limit 7$/);
  });
});
