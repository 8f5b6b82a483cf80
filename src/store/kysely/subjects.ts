import type { Kysely } from 'kysely';
import type { Dialect } from '../migrations.js';
import type { SubjectsPort } from '../ports/subjects.js';
import type { Database } from '../schema.js';
import type { Erasure, ErasureRemovals, SubjectData, SubjectKeys } from '../store.js';
import { holdClaims } from './audience-sync-jobs.js';
import type { KyselyMaintenance } from './maintenance.js';
import { eraseSubject, findSubject, scanSubject } from './subject-queries.js';

/** Data-subject requests over Kysely. */
export class KyselySubjects implements SubjectsPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly maintenance: KyselyMaintenance,
    /**
     * Where an access request and an erasure's first read run (SQLite: the read thread).
     * Hashed e-mails and phones are found in the events' JSON by a scan of the environment's
     * events: 92 ms for 50,000 events on the event loop, and it grows with the 400 days kept.
     */
    private readonly readDb: Kysely<Database> = db,
  ) {}

  findSubject(keys: SubjectKeys): Promise<SubjectData> {
    return findSubject(this.readDb, keys);
  }

  async eraseSubject(
    keys: SubjectKeys,
    removals: ErasureRemovals,
    now_ms: number,
  ): Promise<Erasure> {
    // SQLite: the person's events are looked for first on the read thread (a scan of the
    // JSON of every event); the transaction then reads them by key and searches only the
    // JSON received or merged into since. PostgreSQL scans inside the transaction, as it
    // always did: it holds no event loop, and its servers' clocks (received_at_ms,
    // merged_at_ms) need not agree with this one's.
    const scan =
      this.dialect === 'sqlite' ? await scanSubject(this.readDb, keys, now_ms) : undefined;
    const erasure = await this.db.transaction().execute(async (trx) => {
      // No worker claims a sync batch while the erasure reads which ones may have reached a
      // platform and takes the person out of the others: a claim in between would send them
      // with no removal queued.
      await holdClaims(trx, this.dialect);
      return eraseSubject(trx, keys, removals, now_ms, scan);
    });
    await this.maintenance.compact();
    return erasure;
  }
}
