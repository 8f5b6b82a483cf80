import type { CompiledQuery, Kysely } from 'kysely';
import { vi } from 'vitest';
import { countTurns } from './loop-turns.js';

/** A statement sent on a connection while `watchStatements` ran. */
export interface SentStatement {
  sql: string;
  /** Rows it inserted, updated or deleted. */
  rows: number;
  /** Turns the event loop had taken when it was sent. */
  turn: number;
}

/**
 * Runs `work`, noting each statement sent on `db`'s connection, with the turns the event loop
 * had taken when it was sent: two statements sent in the same turn held the loop between them.
 */
export async function watchStatements<T, D>(
  db: Kysely<D>,
  work: () => Promise<T>,
): Promise<{ value: T; sent: SentStatement[] }> {
  const sent: SentStatement[] = [];
  const counter = countTurns();
  const exec = db.getExecutor();
  const original = exec.executeQuery.bind(exec);
  const spy = vi.spyOn(exec, 'executeQuery').mockImplementation(async (q: CompiledQuery) => {
    const at = counter.turns();
    const r = await original(q);
    sent.push({ sql: q.sql, rows: Number(r.numAffectedRows ?? 0), turn: at });
    return r;
  });
  try {
    return { value: await work(), sent };
  } finally {
    counter.stop();
    spy.mockRestore();
  }
}
