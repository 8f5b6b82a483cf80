import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type {
  CoarseValue,
  PostbackFramework,
  UnverifiedReason,
} from '../../domain/apple-postback.js';
import type { PostbacksPort } from '../ports/postbacks.js';
import type {
  NewPostback,
  PostbackCount,
  PostbackFilter,
  PostbackOutcome,
  PostbackRecord,
  UnverifiedCounts,
  UnverifiedSample,
} from '../postback-records.js';
import type { PurgeCutoffs } from '../records.js';
import type { Database } from '../schema.js';
import type { ApplePostbacksTable } from '../schema-postbacks.js';
import { deleteInBatches, type PurgeRun } from './purge-in-batches.js';

/** Tries of a postback's write that lost a race for a unique key to a concurrent copy. */
const MAX_RACE_RETRIES = 3;
/** Unverified postbacks are sampled per environment and hour. */
const HOUR_MS = 3_600_000;

const bit = (b: boolean | null | undefined): number | null =>
  b === null || b === undefined ? null : b ? 1 : 0;
const bool = (n: number | null): boolean | null => (n === null ? null : Number(n) === 1);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** SQLite's and PostgreSQL's words for a unique key that is taken. */
function uniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '23505' || /UNIQUE constraint failed/.test(err.message ?? '');
}

function row(n: NewPostback): Omit<ApplePostbacksTable, 'id' | 'duplicates'> {
  const p = n.postback;
  const v = n.verification;
  return {
    env_id: n.env_id,
    framework: n.framework,
    version: p?.version ?? null,
    transaction_id: p?.transaction_id ?? '',
    sequence_index: p?.sequence_index ?? 0,
    ad_network_id: p?.ad_network_id || null,
    app_id: p?.app_id || null,
    campaign_id: p?.campaign_id ?? null,
    source_identifier: p?.source_identifier ?? null,
    source_app_id: p?.source_app_id ?? null,
    source_domain: p?.source_domain ?? null,
    fine_value: p?.fine_value ?? null,
    coarse_value: p?.coarse_value ?? null,
    did_win: bit(p?.did_win),
    redownload: bit(p?.redownload),
    conversion_type: p?.conversion_type ?? null,
    fidelity_type: p?.fidelity_type ?? null,
    interaction_type: p?.interaction_type ?? null,
    country_code: p?.country_code ?? null,
    marketplace_id: p?.marketplace_id ?? null,
    verified: v.verified ? 1 : 0,
    reason: v.verified ? null : v.reason,
    reason_detail: v.verified ? null : v.detail,
    key_id: v.key_id,
    body: n.body,
    body_sha256: n.body_sha256,
    received_at_ms: n.received_at_ms,
  };
}

function recordOf(r: Selectable<ApplePostbacksTable>): PostbackRecord {
  return {
    id: Number(r.id),
    env_id: r.env_id === '' ? null : r.env_id,
    framework: r.framework as PostbackFramework,
    version: r.version,
    transaction_id: r.transaction_id,
    ad_network_id: r.ad_network_id,
    app_id: r.app_id,
    campaign_id: r.campaign_id,
    source_identifier: r.source_identifier,
    source_app_id: r.source_app_id,
    source_domain: r.source_domain,
    fine_value: numOrNull(r.fine_value),
    coarse_value: r.coarse_value as CoarseValue | null,
    sequence_index: Number(r.sequence_index),
    did_win: bool(r.did_win),
    redownload: bool(r.redownload),
    conversion_type: r.conversion_type,
    fidelity_type: numOrNull(r.fidelity_type),
    interaction_type: r.interaction_type,
    country_code: r.country_code,
    marketplace_id: r.marketplace_id,
    verified: Number(r.verified) === 1,
    reason: r.reason as UnverifiedReason | null,
    reason_detail: r.reason_detail,
    key_id: r.key_id,
    received_at: new Date(Number(r.received_at_ms)).toISOString(),
    duplicates: Number(r.duplicates),
    body: r.body,
  };
}

/** Apple postbacks over Kysely (migration 0026). */
export class KyselyPostbacks implements PostbacksPort {
  /** Writes on `db`; the counts and lists on `read` (on SQLite off the event loop). */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly read: Kysely<Database> = db,
  ) {}

  async recordPostback(n: NewPostback): Promise<PostbackOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((tx) => record(tx, row(n), n.sample));
      } catch (e) {
        // A concurrent copy took a key between our read and our write: read again.
        if (attempt >= MAX_RACE_RETRIES || !uniqueViolation(e)) throw e;
      }
    }
  }

  async unverifiedCounts(env_id: string, from_ms: number): Promise<UnverifiedCounts> {
    const r = await this.read
      .selectFrom('apple_postback_samples')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<number>('received'), eb.lit(0)).as('received'),
        eb.fn.coalesce(eb.fn.sum<number>('kept'), eb.lit(0)).as('kept'),
      ])
      .where('env_id', '=', env_id)
      .where('hour_ms', '>=', from_ms)
      .executeTakeFirstOrThrow();
    return { received: Number(r.received), kept: Number(r.kept) };
  }

  async listPostbacks(f: PostbackFilter): Promise<PostbackRecord[]> {
    let q = this.read.selectFrom('apple_postbacks').selectAll().where('env_id', '=', f.env_id);
    if (f.verified !== undefined) q = q.where('verified', '=', f.verified ? 1 : 0);
    if (f.framework) q = q.where('framework', '=', f.framework);
    if (f.app_id) q = q.where('app_id', '=', f.app_id);
    if (f.before_id !== undefined) q = q.where('id', '<', f.before_id);
    const rows = await q.orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map(recordOf);
  }

  async postbackCounts(env_id: string, from_ms: number, to_ms: number): Promise<PostbackCount[]> {
    const groups = [
      'framework',
      'app_id',
      'ad_network_id',
      'campaign_id',
      'source_identifier',
      'fine_value',
      'coarse_value',
      'sequence_index',
      'did_win',
      'redownload',
      'conversion_type',
    ] as const;
    const rows = await this.read
      .selectFrom('apple_postbacks')
      .select(groups)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('env_id', '=', env_id)
      .where('verified', '=', 1)
      .where('received_at_ms', '>=', from_ms)
      .where('received_at_ms', '<', to_ms)
      .groupBy(groups)
      .execute();
    return rows.map((r) => ({
      framework: r.framework as PostbackFramework,
      app_id: r.app_id ?? '',
      ad_network_id: r.ad_network_id ?? '',
      campaign_id: r.campaign_id,
      source_identifier: r.source_identifier,
      fine_value: numOrNull(r.fine_value),
      coarse_value: r.coarse_value as CoarseValue | null,
      sequence_index: Number(r.sequence_index),
      did_win: bool(r.did_win),
      redownload: bool(r.redownload),
      conversion_type: r.conversion_type,
      n: Number(r.n),
    }));
  }

  async claimPostbacks(apps: ReadonlyArray<{ app_id: string; env_id: string }>): Promise<number> {
    let moved = 0;
    for (const a of apps) {
      const res = await this.db
        .updateTable('apple_postbacks as p')
        .set({ env_id: a.env_id })
        .where('p.env_id', '=', '')
        .where('p.app_id', '=', a.app_id)
        // A copy the environment already holds stays where it is (both unique keys hold).
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('apple_postbacks as q')
                .select('q.id')
                .where('q.env_id', '=', a.env_id)
                .whereRef('q.framework', '=', 'p.framework')
                .whereRef('q.transaction_id', '=', 'p.transaction_id')
                .whereRef('q.sequence_index', '=', 'p.sequence_index'),
            ),
          ),
        )
        .executeTakeFirst();
      moved += Number(res.numUpdatedRows);
    }
    return moved;
  }
}

/**
 * The purge's part: postbacks as old as the events that go, and unverified ones (with their
 * hourly counts) sooner when the cutoffs say so. Returns the postbacks deleted.
 */
export async function purgePostbacks(run: PurgeRun, c: PurgeCutoffs): Promise<number> {
  const all = await deleteInBatches(
    run,
    'apple_postbacks',
    sql`received_at_ms < ${c.events_before_ms}`,
    'id',
  );
  const before = Math.max(c.events_before_ms, c.unverified_postbacks_before_ms ?? 0);
  const unverified = await deleteInBatches(
    run,
    'apple_postbacks',
    sql`verified = 0 and received_at_ms < ${before}`,
    'id',
  );
  // One row an environment and hour: a few thousand a year, read whole.
  await run.db.deleteFrom('apple_postback_samples').where('hour_ms', '<', before).execute();
  return all + unverified;
}

type PostbackRow = Omit<ApplePostbacksTable, 'id' | 'duplicates'>;

/**
 * Counts an unverified postback in its environment's hour, and says whether the hour's
 * sample has room for it. The upsert locks the hour's row until the transaction ends, so
 * concurrent copies on PostgreSQL take the places one at a time.
 */
async function takeSample(
  tx: Transaction<Database>,
  r: PostbackRow,
  per_hour: number,
): Promise<boolean> {
  const hour_ms = r.received_at_ms - (r.received_at_ms % HOUR_MS);
  const counted = await tx
    .insertInto('apple_postback_samples')
    .values({ env_id: r.env_id, hour_ms, received: 1, kept: 0 })
    .onConflict((oc) =>
      oc.columns(['env_id', 'hour_ms']).doUpdateSet((eb) => ({
        received: eb('apple_postback_samples.received', '+', 1),
      })),
    )
    .returning('kept')
    .executeTakeFirstOrThrow();
  if (Number(counted.kept) >= per_hour) return false;
  await tx
    .updateTable('apple_postback_samples')
    .set((eb) => ({ kept: eb('kept', '+', 1) }))
    .where('env_id', '=', r.env_id)
    .where('hour_ms', '=', hour_ms)
    .execute();
  return true;
}

/** A kept unverified body is cut short; its reason says so. */
function cut(r: PostbackRow, chars: number): PostbackRow {
  if (r.body.length <= chars) return r;
  const note = `body cut to ${chars} of ${r.body.length} characters`;
  return {
    ...r,
    body: r.body.slice(0, chars),
    reason_detail: r.reason_detail ? `${r.reason_detail} (${note})` : note,
  };
}

async function record(
  tx: Transaction<Database>,
  r: PostbackRow,
  sample: UnverifiedSample,
): Promise<PostbackOutcome> {
  const sameKey = tx
    .selectFrom('apple_postbacks')
    .select(['id', 'body_sha256', 'verified'])
    .where('env_id', '=', r.env_id)
    .where('framework', '=', r.framework)
    .where('transaction_id', '=', r.transaction_id)
    .where('sequence_index', '=', r.sequence_index);
  const same = await sameKey.where('body_sha256', '=', r.body_sha256).executeTakeFirst();
  if (same) {
    await tx
      .updateTable('apple_postbacks')
      .set((eb) => ({ duplicates: eb('duplicates', '+', 1) }))
      .where('id', '=', same.id)
      .execute();
    return { outcome: 'duplicate', id: Number(same.id) };
  }
  // A malformed body has no transaction id to compare.
  const counted =
    r.transaction_id === ''
      ? undefined
      : await sameKey.where('verified', '=', 1).executeTakeFirst();
  let values = r;
  if (counted && r.verified === 1) {
    // Only the unsigned values (conversion values, country) can differ under a valid
    // signature: someone changed a genuine postback and sent it again.
    values = {
      ...r,
      verified: 0,
      reason: 'conflicting_replay',
      reason_detail: `transaction-id ${r.transaction_id} was stored verified (postback ${counted.id}) with a different body`,
    };
  }
  if (values.verified === 0) {
    if (!(await takeSample(tx, values, sample.per_hour)))
      return { outcome: 'not_kept', reason: values.reason as UnverifiedReason };
    values = cut(values, sample.body_chars);
  }
  const inserted = await tx
    .insertInto('apple_postbacks')
    .values(values)
    .returning('id')
    .executeTakeFirstOrThrow();
  const id = Number(inserted.id);
  if (counted) return { outcome: 'conflict', id, original_id: Number(counted.id) };
  return { outcome: 'stored', id, verified: values.verified === 1 };
}
