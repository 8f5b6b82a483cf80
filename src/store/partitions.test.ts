import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import { dropBefore, ensureDays, PARTITIONED, partitionName } from './partitions.js';

// A partition's DDL that PostgreSQL fails for a reason the next run does not have (a lock not
// had in time, a deadlock with another process's index build) leaves that day to the next
// run; any other failure, or one inside a caller's transaction, is the caller's.

const DAY_MS = 86_400_000;
const TOUCHES =
  PARTITIONED.find((t) => t.name === 'touches') ??
  (() => {
    throw new Error('touches are not partitioned');
  })();

/** A PostgreSQL error of `code`, as node-postgres gives it. */
const pgError = (code: string) => Object.assign(new Error(`error ${code}`), { code });

/**
 * A Kysely over PostgreSQL's SQL whose statements `answer` gives rows for or throws from,
 * each noted in `sent`: the partition code's own statements, without a server.
 */
function scripted(answer: (sql: string) => QueryResult<unknown>) {
  const sent: string[] = [];
  const connection: DatabaseConnection = {
    executeQuery: async <R>(q: { sql: string }) => {
      sent.push(q.sql.replace(/\s+/g, ' ').trim());
      return answer(q.sql) as QueryResult<R>;
    },
    streamQuery: () => {
      throw new Error('not streamed');
    },
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const db = new Kysely<unknown>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return { db, sent };
}

const rows = (r: unknown[]): QueryResult<unknown> => ({ rows: r });
const days = [Date.UTC(2026, 11, 7), Date.UTC(2026, 11, 8)];

/** Answers the partition list with `have`, and fails the DDL of `failing` with `code`. */
function failingDdl(have: string[], failing: string, code: string) {
  return (text: string) => {
    if (/FROM pg_inherits/i.test(text)) return rows(have.map((name) => ({ name })));
    if (/count\(\*\)/i.test(text)) return rows([{ n: 3 }]);
    if (text.includes(`"${failing}"`)) throw pgError(code);
    return rows([]);
  };
}

describe('day partitions made and dropped beside other processes', () => {
  it.each(['40P01', '55P03'])(
    'PT01 a day whose partition fails with %s is left to the next run, the others made',
    async (code) => {
      const first = partitionName(TOUCHES, days[0] as number);
      const second = partitionName(TOUCHES, days[1] as number);
      const { db, sent } = scripted(failingDdl([], first, code));
      await expect(ensureDays(db, TOUCHES, days)).resolves.toBeUndefined();
      const made = sent.filter((s) => s.startsWith('CREATE TABLE'));
      expect(made).toHaveLength(2);
      expect(made[1]).toContain(`"${second}"`);
    },
  );

  it('PT02 any other failure of a partition is the caller’s', async () => {
    const first = partitionName(TOUCHES, days[0] as number);
    const { db } = scripted(failingDdl([], first, '42501'));
    await expect(ensureDays(db, TOUCHES, days)).rejects.toMatchObject({ code: '42501' });
  });

  it.each(['40P01', '55P03'])(
    'PT03 inside a caller’s transaction (a migration’s) a %s is the caller’s: it aborted it',
    async (code) => {
      const first = partitionName(TOUCHES, days[0] as number);
      const { db } = scripted(failingDdl([], first, code));
      await expect(
        db.transaction().execute((tx) => ensureDays(tx, TOUCHES, days)),
      ).rejects.toMatchObject({ code });
    },
  );

  it.each(['40P01', '55P03'])(
    'PT04 retention leaves a partition whose drop fails with %s to the next purge, and drops the rest',
    async (code) => {
      const old = [Date.UTC(2026, 8, 1), Date.UTC(2026, 8, 2)].map((d) =>
        partitionName(TOUCHES, d),
      );
      const { db, sent } = scripted(failingDdl(old, old[0] as string, code));
      const r = await dropBefore(db, TOUCHES, Date.UTC(2026, 9, 1) + DAY_MS);
      expect(r.partitions).toBe(1);
      expect(sent.filter((s) => s.startsWith('DROP TABLE'))).toHaveLength(2);
    },
  );
});
