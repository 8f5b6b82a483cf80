import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Kysely, Migrator, sql } from 'kysely';
import { type Dialect, migrationProvider } from '../migrations.js';
import { dropBefore, ensureDays, PARTITIONED, upcomingDays } from '../partitions.js';
import type { MaintenancePort } from '../ports/maintenance.js';
import type { Database } from '../schema.js';
import type { PurgeCutoffs, PurgeReport } from '../store.js';
import { emptyEndedSyncJobs } from './audience-sync-jobs.js';
import { purgeImportKeys } from './import-ledger-queries.js';
import { purgeViews } from './impression-views.js';
import type { TouchWriter } from './ingest.js';
import { purgePostbacks } from './postbacks.js';

/**
 * Expired touches deleted a statement at a time on SQLite, with a turn of the event loop
 * between statements: one statement for 100,000 of 1,000,000 touches held the loop for
 * 1,611 ms (bench/RESULTS.md, issue 22's eleventh round); 1,000 rows take about 16 ms.
 */
export const PURGE_BATCH_ROWS = 1_000;

/** Deletes touches older than `before_s`, PURGE_BATCH_ROWS at a time (by `touches_by_time`). */
async function deleteTouchesInBatches(db: Kysely<Database>, before_s: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const r = await sql`delete from touches where id in (
      select id from touches where time < ${before_s} limit ${PURGE_BATCH_ROWS})`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    deleted += n;
    if (n < PURGE_BATCH_ROWS) return deleted;
    // Pixels, events and deliveries are answered before the next batch.
    await nextTurn();
  }
}

/** Schema, connection, retention and upkeep over Kysely. */
export class KyselyMaintenance implements MaintenancePort {
  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly touchWriter?: TouchWriter,
  ) {}

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

  async close(): Promise<void> {
    await this.touchWriter?.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async purge(c: PurgeCutoffs): Promise<PurgeReport> {
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
      const touches = await deleteTouchesInBatches(this.db, c.touches_before_s);
      const e = await this.db
        .deleteFrom('events')
        .where('received_at_ms', '<', c.events_before_ms)
        .executeTakeFirst();
      report.touches = touches;
      report.events = Number(e.numDeletedRows);
    }
    const d = await this.db
      .deleteFrom('dedup_keys')
      .where('first_seen', '<', c.dedup_before_s)
      .executeTakeFirst();
    report.dedup_keys = Number(d.numDeletedRows);
    report.import_keys = await purgeImportKeys(this.db, c.events_before_ms);
    report.apple_postbacks = await purgePostbacks(this.db, c);
    report.impression_views = await purgeViews(this.db, c.touches_before_s * 1000);
    // Expired rows carry ids and (hashed) IPs: they must not linger in the files either.
    // (Dropped PostgreSQL partitions leave nothing behind; deleted rows need a VACUUM.)
    if (report.touches + report.events > 0) await this.compact();
    return report;
  }

  async refreshStatistics(): Promise<void> {
    // SQLite plans these queries well without sqlite_stat1; ANALYZE could only move them.
    if (this.dialect === 'sqlite') return;
    // Right after a bulk load autovacuum has not run yet: the report's aggregate was planned
    // for 1 row and sorted 100,000 on disk (334 ms; 173 ms after this).
    await sql`VACUUM (ANALYZE) conversions, touch_days, events, touches, outbox`.execute(this.db);
  }

  /**
   * Makes deleted rows unrecoverable from the files: SQLite runs with secure_delete (freed
   * pages are zeroed) and the WAL, which still holds old page images, is checkpointed and
   * truncated; PostgreSQL's VACUUM reclaims the dead tuples.
   */
  async compact(): Promise<void> {
    if (this.dialect === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db);
    else
      await sql`VACUUM events, touches, identity_links, conversions, outbox, delivery_attempts, dedup_keys`.execute(
        this.db,
      );
  }
}
