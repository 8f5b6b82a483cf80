import type { Kysely, Selectable } from 'kysely';
import type { AudienceDefinitionsPort } from '../ports/audiences.js';
import type { Database } from '../schema.js';
import type { AudienceRecord, AudienceSyncJob } from '../store.js';
import { AUDIENCE_SYNC_KIND } from '../store.js';
import { jobsOf } from './audience-sync-jobs.js';
import { bumpDefinitionVersion, definitionVersion } from './definition-versions.js';

/** Rows per multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const INSERT_CHUNK_ROWS = 200;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Audience definitions and their size history, over Kysely. */
export class KyselyAudiences implements AudienceDefinitionsPort {
  constructor(private readonly db: Kysely<Database>) {}

  async createAudience(a: AudienceRecord) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('audiences')
        .values({ ...a, rules: JSON.stringify(a.rules) })
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async audiencesVersion() {
    return definitionVersion(this.db, 'audiences');
  }

  private audienceFromRow(r: Selectable<Database['audiences']>): AudienceRecord {
    return {
      env_id: r.env_id,
      id: r.id,
      name: r.name,
      rules: JSON.parse(r.rules),
      min_export_size: num(r.min_export_size),
      created_at_ms: num(r.created_at_ms),
      recomputed_at_ms: numOrNull(r.recomputed_at_ms),
    };
  }

  async getAudience(id: string) {
    const row = await this.db
      .selectFrom('audiences')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.audienceFromRow(row) : null;
  }

  async listAudiences(env_id: string) {
    const rows = await this.db
      .selectFrom('audiences')
      .selectAll()
      .where('env_id', '=', env_id)
      .orderBy('created_at_ms')
      .execute();
    return rows.map((r) => this.audienceFromRow(r));
  }

  async markAudienceRecomputed(env_id: string, id: string, at_ms: number) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('audiences')
        .set({ recomputed_at_ms: at_ms })
        .where('env_id', '=', env_id)
        .where('id', '=', id)
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async updateAudience(
    env_id: string,
    id: string,
    f: Pick<AudienceRecord, 'name' | 'rules' | 'min_export_size'>,
  ) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('audiences')
        .set({ name: f.name, rules: JSON.stringify(f.rules), min_export_size: f.min_export_size })
        .where('env_id', '=', env_id)
        .where('id', '=', id)
        .execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async deleteAudience(env_id: string, id: string) {
    await this.db.transaction().execute(async (trx) => {
      // Removals not yet delivered stay: they take people (erased ones among them) off the
      // platform's copy, which deleting ours does not touch.
      const jobs = (
        await trx
          .selectFrom('outbox')
          .select(['id', 'status', 'payload'])
          .where('env_id', '=', env_id)
          .where('kind', '=', AUDIENCE_SYNC_KIND)
          .where(jobsOf(id))
          .execute()
      ).filter(
        (j) =>
          j.status === 'delivered' ||
          !j.payload ||
          (JSON.parse(j.payload as string) as AudienceSyncJob).action !== 'remove',
      );
      for (let i = 0; i < jobs.length; i += INSERT_CHUNK_ROWS) {
        const ids = jobs.slice(i, i + INSERT_CHUNK_ROWS).map((j) => Number(j.id));
        await trx.deleteFrom('delivery_attempts').where('outbox_id', 'in', ids).execute();
        await trx.deleteFrom('outbox').where('id', 'in', ids).execute();
      }
      for (const table of [
        'audience_members',
        'audience_sizes',
        'audience_synced',
        'audience_schedules',
      ] as const) {
        await trx
          .deleteFrom(table)
          .where('env_id', '=', env_id)
          .where('audience_id', '=', id)
          .execute();
      }
      await trx.deleteFrom('audiences').where('env_id', '=', env_id).where('id', '=', id).execute();
      await bumpDefinitionVersion(trx, 'audiences');
    });
  }

  async clearMemberships(env_id: string, audience_id: string) {
    await this.db
      .deleteFrom('audience_members')
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .execute();
  }

  async audienceSize(env_id: string, audience_id: string) {
    const row = await this.db
      .selectFrom('audience_members')
      .select((eb) => eb.fn.count<number>('person').distinct().as('n'))
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .where('member', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async recordAudienceSize(env_id: string, audience_id: string, at_ms: number, size: number) {
    await this.db
      .insertInto('audience_sizes')
      .values({ env_id, audience_id, at_ms, size })
      .onConflict((oc) => oc.columns(['env_id', 'audience_id', 'at_ms']).doUpdateSet({ size }))
      .execute();
  }

  async audienceSizes(env_id: string, audience_id: string, limit: number) {
    const rows = await this.db
      .selectFrom('audience_sizes')
      .select(['at_ms', 'size'])
      .where('env_id', '=', env_id)
      .where('audience_id', '=', audience_id)
      .orderBy('at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ at_ms: num(r.at_ms), size: num(r.size) })).reverse();
  }
}
