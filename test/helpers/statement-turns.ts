import type { CompiledQuery, Kysely } from 'kysely';
import { vi } from 'vitest';

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
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const exec = db.getExecutor();
  const original = exec.executeQuery.bind(exec);
  const spy = vi.spyOn(exec, 'executeQuery').mockImplementation(async (q: CompiledQuery) => {
    const at = turn;
    const r = await original(q);
    sent.push({ sql: q.sql, rows: Number(r.numAffectedRows ?? 0), turn: at });
    return r;
  });
  try {
    return { value: await work(), sent };
  } finally {
    running = false;
    spy.mockRestore();
  }
}
