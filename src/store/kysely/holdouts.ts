import type { Kysely, Selectable } from 'kysely';
import type { Holdout, HoldoutSubject } from '../../domain/holdout.js';
import type { HoldoutsPort, LiftEventRow, UserLink } from '../ports/holdouts.js';
import type { Database } from '../schema.js';
import { chunks } from './chunks.js';
import { bumpDefinitionVersion, definitionVersion } from './definition-versions.js';

/** Values per IN list or multi-row INSERT; keeps under SQLite's bound-parameter limit. */
const CHUNK = 400;

const num = (v: unknown): number => Number(v);

function holdoutFromRow(r: Selectable<Database['holdouts']>): Holdout {
  return {
    env_id: r.env_id,
    id: r.id,
    name: r.name,
    subject_type: r.subject_type as HoldoutSubject,
    subject_id: r.subject_id,
    salt: r.salt,
    fractions: JSON.parse(r.fractions),
    conversion_events: JSON.parse(r.conversion_events),
    created_at_ms: num(r.created_at_ms),
    updated_at_ms: num(r.updated_at_ms),
  };
}

/** Holdouts and their entries, over Kysely. */
export class KyselyHoldouts implements HoldoutsPort {
  /**
   * Writes and the ingest path's reads on `db`; the lift report's reads (and audience syncs'
   * user links) on `read`.
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly read: Kysely<Database> = db,
  ) {}

  holdoutsVersion() {
    return definitionVersion(this.db, 'holdouts');
  }

  async createHoldout(h: Holdout) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('holdouts')
        .values({
          ...h,
          fractions: JSON.stringify(h.fractions),
          conversion_events: JSON.stringify(h.conversion_events),
        })
        .execute();
      await bumpDefinitionVersion(trx, 'holdouts');
    });
  }

  async getHoldout(id: string) {
    const r = await this.db
      .selectFrom('holdouts')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? holdoutFromRow(r) : null;
  }

  async listHoldouts(env_id: string) {
    const rows = await this.db
      .selectFrom('holdouts')
      .selectAll()
      .where('env_id', '=', env_id)
      .orderBy('created_at_ms')
      .execute();
    return rows.map(holdoutFromRow);
  }

  async holdoutOfSubject(env_id: string, subject_type: HoldoutSubject, subject_id: string) {
    const r = await this.db
      .selectFrom('holdouts')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('subject_type', '=', subject_type)
      .where('subject_id', '=', subject_id)
      .executeTakeFirst();
    return r ? holdoutFromRow(r) : null;
  }

  async updateHoldout(h: Holdout) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('holdouts')
        .set({
          name: h.name,
          fractions: JSON.stringify(h.fractions),
          conversion_events: JSON.stringify(h.conversion_events),
          updated_at_ms: h.updated_at_ms,
        })
        .where('env_id', '=', h.env_id)
        .where('id', '=', h.id)
        .execute();
      await bumpDefinitionVersion(trx, 'holdouts');
    });
  }

  async deleteHoldout(env_id: string, id: string) {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('holdout_entries').where('holdout_id', '=', id).execute();
      await trx.deleteFrom('holdouts').where('env_id', '=', env_id).where('id', '=', id).execute();
      await bumpDefinitionVersion(trx, 'holdouts');
    });
  }

  async recordHoldoutEntries(
    env_id: string,
    holdout_id: string,
    persons: readonly string[],
    entered_at: number,
  ) {
    for (const part of chunks([...new Set(persons)], CHUNK)) {
      await this.db
        .insertInto('holdout_entries')
        .values(part.map((person) => ({ env_id, holdout_id, person, entered_at })))
        .onConflict((oc) => oc.columns(['holdout_id', 'person']).doNothing())
        .execute();
    }
  }

  async holdoutEntries(holdout_id: string, from_s: number, to_s: number) {
    const rows = await this.read
      .selectFrom('holdout_entries')
      .select(['person', 'entered_at'])
      .where('holdout_id', '=', holdout_id)
      .where('entered_at', '>=', from_s)
      .where('entered_at', '<', to_s)
      .execute();
    return rows.map((r) => ({ person: r.person, entered_at: num(r.entered_at) }));
  }

  async holdoutEntriesOf(holdout_id: string, persons: readonly string[]) {
    const out: Array<{ person: string; entered_at: number }> = [];
    for (const part of chunks([...new Set(persons)], CHUNK)) {
      const rows = await this.db
        .selectFrom('holdout_entries')
        .select(['person', 'entered_at'])
        .where('holdout_id', '=', holdout_id)
        .where('person', 'in', part)
        .execute();
      for (const r of rows) out.push({ person: r.person, entered_at: num(r.entered_at) });
    }
    return out;
  }

  async userLinks(env_id: string, user_ids: readonly string[], anonymous_ids: readonly string[]) {
    const out: UserLink[] = [];
    const links = () =>
      this.read
        .selectFrom('identity_links')
        .select(['key_value as user_id', 'anonymous_id', 'last_seen'])
        .where('env_id', '=', env_id)
        .where('key_type', '=', 'user_id');
    const add = (rows: Array<{ user_id: string; anonymous_id: string; last_seen: unknown }>) => {
      for (const r of rows) out.push({ ...r, last_seen: num(r.last_seen) });
    };
    for (const part of chunks(user_ids, CHUNK))
      add(await links().where('key_value', 'in', part).execute());
    for (const part of chunks(anonymous_ids, CHUNK))
      add(await links().where('anonymous_id', 'in', part).execute());
    return out;
  }

  async liftEvents(
    env_id: string,
    names: readonly string[],
    from_s: number,
    to_s: number,
    ids: { user_ids: readonly string[]; anonymous_ids: readonly string[] },
  ) {
    const found = new Map<string, LiftEventRow>();
    const read = async (col: 'user_id' | 'anonymous_id', values: readonly string[]) => {
      for (const part of chunks(values, CHUNK)) {
        const rows = await this.read
          .selectFrom('events')
          .select(['pk', 'event_time', 'user_id', 'anonymous_id', 'value', 'currency'])
          .where('env_id', '=', env_id)
          .where(col, 'in', part)
          .where('event_time', '>=', from_s)
          .where('event_time', '<', to_s)
          .where('event_name', 'in', names)
          .where('traffic', 'is', null)
          // Test events (a test code, like Meta's test_event_code) never count as results.
          .where('is_test', '=', 0)
          .execute();
        for (const r of rows)
          found.set(r.pk, {
            pk: r.pk,
            time: num(r.event_time),
            user_id: r.user_id,
            anonymous_id: r.anonymous_id,
            value: r.value === null ? null : num(r.value),
            currency: r.currency,
          });
      }
    };
    await read('user_id', ids.user_ids);
    await read('anonymous_id', ids.anonymous_ids);
    return [...found.values()];
  }
}
