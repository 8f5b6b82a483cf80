import type { Kysely } from 'kysely';
import type { Touch } from '../../domain/event.js';
import type { ImpressionView } from '../../domain/viewability.js';
import type { Dialect } from '../migrations.js';
import type { IngestPort } from '../ports/ingest.js';
import type { Database } from '../schema.js';
import type { ImportKey, IngestTx } from '../store.js';
import { importedKeys, rememberImported } from './import-ledger-queries.js';
import { upsertViews } from './impression-views.js';
import { type DirectRun, IngestStatements } from './ingest-statements.js';
import { KyselyIngestTx, postgresPartitionedReads } from './ingest-tx.js';
import type { PreparedTexts } from './prepared-statements.js';
import { SET_WISE_PARTITIONED_READS } from './set-wise-ingest.js';
import { TouchCache } from './touch-cache.js';
import { isTransactionConflict } from './transaction-conflict.js';

/**
 * Runs of one ingest transaction that PostgreSQL aborted for a deadlock or a serialization
 * failure (a concurrent transaction wins; running again then usually commits).
 */
const INGEST_ATTEMPTS = 4;

/** Commits pixel touches off the event transaction (SQLite: on a thread of its own). */
export interface TouchWriter {
  write(t: readonly Touch[]): Promise<void>;
  /** Viewability signals, on the same thread after the touches before them (issue 24). */
  writeViews?(v: readonly ImpressionView[]): Promise<void>;
  close(): Promise<void>;
}

/** The ingest port over Kysely: one transaction per batch, run again on a PostgreSQL conflict. */
export class KyselyIngest implements IngestPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly touchWriter?: TouchWriter,
    prepared?: PreparedTexts,
    direct?: DirectRun,
  ) {
    this.statements = new IngestStatements(dialect, prepared, direct);
    if (this.statements.named)
      this.statements.reserve([...SET_WISE_PARTITIONED_READS, ...postgresPartitionedReads()]);
    // Reads by address take the ids alone: SQLite's direct runner, PostgreSQL's set-wise reads.
    if (direct || dialect === 'postgres') this.touchCache = new TouchCache();
  }

  private readonly statements: IngestStatements;
  private readonly touchCache?: TouchCache;

  /** Drops the touches kept in memory (after touches were deleted: erasure, purge). */
  forgetTouches(): void {
    this.touchCache?.clear();
  }

  insertTouches(touches: readonly Touch[]): Promise<void> {
    if (touches.length === 0) return Promise.resolve();
    if (this.touchWriter) return this.touchWriter.write(touches);
    return this.ingest((tx) => tx.insertTouches(touches));
  }

  upsertImpressionViews(views: readonly ImpressionView[]): Promise<void> {
    if (views.length === 0) return Promise.resolve();
    if (this.touchWriter?.writeViews) return this.touchWriter.writeViews(views);
    return upsertViews(this.db, this.dialect, views);
  }

  async ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const tx = new KyselyIngestTx(trx, this.statements, this.touchCache);
          const out = await fn(tx);
          await tx.settle();
          return out;
        });
      } catch (e) {
        if (attempt >= INGEST_ATTEMPTS || !isTransactionConflict(e)) throw e;
      }
    }
  }

  importedKeys(env_id: string, keys: readonly ImportKey[]) {
    return importedKeys(this.db, this.dialect, env_id, keys);
  }

  rememberImported(env_id: string, keys: readonly ImportKey[], now_ms: number) {
    return rememberImported(this.db, env_id, keys, now_ms);
  }

  async eventSourcesSince(since_ms: number) {
    const rows = await this.db
      .selectFrom('events')
      .select(['env_id', 'event_name', 'source'])
      .select((eb) => eb.fn.max('received_at_ms').as('last_ms'))
      .where('received_at_ms', '>=', since_ms)
      .groupBy(['env_id', 'event_name', 'source'])
      .execute();
    return rows.map((r) => ({ ...r, last_ms: Number(r.last_ms) }));
  }
}
