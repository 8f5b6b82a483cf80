import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, Migrator, sql } from 'kysely';
import { type Dialect, migrationProvider } from '../migrations.js';
import { buildPartitionIndexes, type PartitionIndexRun } from '../partition-indexes.js';
import { dropBefore, ensureDays, PARTITIONED, upcomingDays } from '../partitions.js';
import type { MaintenancePort } from '../ports/maintenance.js';
import type { Database } from '../schema.js';
import type { PurgeCutoffs, PurgeReport } from '../store.js';
import { emptyEndedSyncJobs } from './audience-sync-jobs.js';
import { purgeImportKeys } from './import-ledger-queries.js';
import { purgeViews } from './impression-views.js';
import type { TouchWriter } from './ingest.js';
import { purgePostbacks } from './postbacks.js';
import {
  deleteInBatches,
  type PurgeRun,
  purgeDedupKeys,
  purgeEvents,
  purgeRun,
} from './purge-in-batches.js';

/** What one `PRAGMA wal_checkpoint` reported, in WAL frames (pages). */
export interface WalCheckpoint {
  /** 1 when a lock was held (another checkpoint, a writer, an older reader) and not all done. */
  readonly busy: number;
  /** Frames in the WAL. */
  readonly log: number;
  /** Frames of the WAL now copied into the database file. */
  readonly checkpointed: number;
}

/** SQLite's WAL checkpoints, run on the checkpointer's thread beside the event loop. */
export interface WalControl {
  run(mode: 'PASSIVE' | 'TRUNCATE'): Promise<WalCheckpoint>;
  /** Tells the operator (the server's log). */
  warn(message: string): void;
}

/**
 * Purge batches between two copies of the WAL into the database file. A purge commits without
 * a pause, so the WAL could not start over and grew until a commit on the event loop crossed the
 * writers' backstop and checkpointed it: 394 ms in a purge of 100,000 events. Ten batches are
 * 10,000 rows, about 5,000 pages of WAL.
 */
const COPY_EVERY_BATCHES = 10;
/** How long past the dedup window the record of a merge is kept (event_merges, 0041). */
const MERGES_KEPT_PAST_DEDUP_S = 86_400;
/** Tries of the WAL's truncation on the thread, and the wait between them. */
const TRUNCATE_TRIES = 200;
const TRUNCATE_RETRY_MS = 50;

/** Schema, connection, retention and upkeep over Kysely. */
export class KyselyMaintenance implements MaintenancePort {
  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly touchWriter?: TouchWriter,
    private readonly wal?: WalControl,
    private readonly truncateRetry = { tries: TRUNCATE_TRIES, waitMs: TRUNCATE_RETRY_MS },
  ) {}

  /** A truncation of the WAL that found no free moment: the next purge tries it again. */
  private truncateOwed = false;

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider(this.dialect),
      // Migrations written on parallel branches may land in any order.
      allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`);
    }
    await this.ensurePartitions(Date.now());
  }

  async ensurePartitions(now_ms: number): Promise<void> {
    if (this.dialect !== 'postgres') return;
    for (const t of PARTITIONED) await ensureDays(this.db, t, upcomingDays(now_ms));
  }

  async buildPartitionIndexes(signal?: AbortSignal): Promise<PartitionIndexRun> {
    if (this.dialect !== 'postgres') return { attached: 0, failed: [] };
    return buildPartitionIndexes(this.db, signal);
  }

  async close(): Promise<void> {
    await this.touchWriter?.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async purge(c: PurgeCutoffs): Promise<PurgeReport> {
    const run = this.purgeRun();
    const report: PurgeReport = {
      touches: 0,
      events: 0,
      dedup_keys: 0,
      import_keys: 0,
      apple_postbacks: 0,
      impression_views: 0,
      partitions_dropped: 0,
      audience_batches_emptied: await emptyEndedSyncJobs(this.db, c.events_before_ms),
    };
    if (this.dialect === 'postgres') {
      const [touches, events] = PARTITIONED;
      const t = await dropBefore(this.db, touches, c.touches_before_s * 1000);
      const e = await dropBefore(this.db, events, c.events_before_ms);
      report.touches = t.rows;
      report.events = e.rows;
      report.partitions_dropped = t.partitions + e.partitions;
    } else {
      report.touches = await deleteInBatches(
        run,
        'touches',
        sql`time < ${c.touches_before_s}`,
        'id',
      );
      report.events = await purgeEvents(run, c.events_before_ms);
    }
    report.dedup_keys = await purgeDedupKeys(run, c.dedup_before_s);
    report.import_keys = await purgeImportKeys(run, c.events_before_ms);
    report.apple_postbacks = await purgePostbacks(run, c);
    report.impression_views = await purgeViews(run, c.touches_before_s * 1000);
    // Merges an erasure may search again: a day past the 48 h in which copies merge (0041).
    await deleteInBatches(
      run,
      'event_merges',
      sql`merged_at_ms < ${(c.dedup_before_s - MERGES_KEPT_PAST_DEDUP_S) * 1000}`,
    );
    // Expired rows carry ids and (hashed) IPs: they must not linger in the files either.
    // (Dropped PostgreSQL partitions leave nothing behind; deleted rows need a VACUUM.)
    if (report.touches + report.events > 0 || this.truncateOwed) await this.compact();
    return report;
  }

  /** Lets the event loop turn between batches, and has the WAL copied every few batches. */
  private purgeRun(): PurgeRun {
    const { wal } = this;
    if (!wal) return purgeRun(this.db, this.dialect);
    let batches = 0;
    const pause = async () => {
      if (++batches % COPY_EVERY_BATCHES === 0) {
        try {
          await wal.run('PASSIVE');
          return;
        } catch {
          // A stopped thread: the writers' backstop checkpoints instead.
        }
      }
      await nextTurn();
    };
    return { db: this.db, dialect: this.dialect, pause };
  }

  async refreshStatistics(): Promise<void> {
    // SQLite plans these queries well without sqlite_stat1; ANALYZE could only move them.
    if (this.dialect === 'sqlite') return;
    // Right after a bulk load autovacuum has not run yet: the report's aggregate was planned
    // for 1 row and sorted 100,000 on disk (334 ms; 173 ms after this). The multi-touch report's
    // pages of conversion paths, planned for an empty table, were each a bitmap scan of every
    // path after the cursor and a sort: the demo's month read in 1.3-2.8 s, 0.46-0.74 s with
    // statistics (an index scan in order, stopped after the page).
    await sql`VACUUM (ANALYZE) conversions, conversion_paths, touch_days, events, touches, outbox`.execute(
      this.db,
    );
  }

  /**
   * Makes deleted rows unrecoverable from the files: SQLite runs with secure_delete (freed
   * pages are zeroed) and the WAL, which still holds old page images, is checkpointed and
   * truncated; PostgreSQL's VACUUM reclaims the dead tuples.
   */
  async compact(): Promise<void> {
    if (this.dialect === 'postgres') {
      await sql`VACUUM events, touches, identity_links, conversions, outbox, delivery_attempts, dedup_keys`.execute(
        this.db,
      );
      return;
    }
    const onThread = await this.truncateOnThread();
    if (onThread === 'done') {
      this.truncateOwed = false;
      return;
    }
    if (onThread === 'busy') {
      // Not on the event loop instead: a reader that held an old snapshot this long would
      // hold its connection as long, every request waiting behind it.
      this.truncateOwed = true;
      this.wal?.warn(
        'the WAL could not be truncated after a purge or erasure (a long read or write was in the way); the next purge tries again',
      );
      return;
    }
    // No checkpointer thread: the event loop's connection waits for the moment itself.
    const r = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db);
    this.truncateOwed = Number(r.rows[0]?.busy ?? 0) !== 0;
  }

  /**
   * Truncates the WAL on the checkpointer's thread. On the event loop the copy and its fsyncs
   * held every request: 294 ms after a purge of 100,000 events. The thread first copies what
   * it can without a lock, then tries the truncation, which needs a moment with no writer and
   * no reader of an older snapshot, until it finds one.
   */
  private async truncateOnThread(): Promise<'done' | 'busy' | 'no thread'> {
    if (!this.wal) return 'no thread';
    try {
      await this.wal.run('PASSIVE');
      for (let i = 0; i < this.truncateRetry.tries; i++) {
        const r = await this.wal.run('TRUNCATE');
        if (r.busy === 0 && r.log === 0) return 'done';
        await sleep(this.truncateRetry.waitMs);
      }
      return 'busy';
    } catch {
      // The thread stopped.
      return 'no thread';
    }
  }
}
