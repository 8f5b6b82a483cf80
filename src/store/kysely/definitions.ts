import type { Kysely } from 'kysely';
import type { TriggerRule } from '../../domain/trigger-rules.js';
import type { DefinitionsPort } from '../ports/definitions.js';
import type { Database } from '../schema.js';
import type { StoredDestinationRow } from '../store.js';
import { bumpDefinitionVersion, definitionVersion } from './definition-versions.js';

/** Saved destinations, trigger rules and ended sessions over Kysely. */
export class KyselyDefinitions implements DefinitionsPort {
  constructor(private readonly db: Kysely<Database>) {}

  async storedDestinations(): Promise<StoredDestinationRow[]> {
    const rows = await this.db
      .selectFrom('stored_destinations')
      .selectAll()
      .orderBy('created_at_ms')
      .orderBy('dest_id')
      .execute();
    return rows.map((r) => ({
      env_id: r.env_id,
      dest_id: r.dest_id,
      config: r.config === null ? null : (JSON.parse(r.config) as Record<string, unknown>),
      created_at_ms: Number(r.created_at_ms),
      updated_at_ms: Number(r.updated_at_ms),
    }));
  }

  async resealStoredDestination(row: StoredDestinationRow, config: Record<string, unknown>) {
    if (row.config === null) return false;
    const before = JSON.stringify(row.config);
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .updateTable('stored_destinations')
        .set({ config: JSON.stringify(config) })
        .where('env_id', '=', row.env_id)
        .where('dest_id', '=', row.dest_id)
        .where('updated_at_ms', '=', row.updated_at_ms)
        .where('config', '=', before)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await bumpDefinitionVersion(tx, 'stored_destinations');
      return true;
    });
  }

  async putStoredDestination(
    env_id: string,
    dest_id: string,
    config: Record<string, unknown> | null,
    now_ms: number,
  ) {
    const json = config === null ? null : JSON.stringify(config);
    await this.db.transaction().execute(async (tx) => {
      // Strictly after every earlier write, so saved rows keep the order they were written in
      // even within one millisecond.
      const last = await tx
        .selectFrom('stored_destinations')
        .select((eb) => eb.fn.max('updated_at_ms').as('at'))
        .executeTakeFirst();
      const at = Math.max(now_ms, Number(last?.at ?? 0) + 1);
      await tx
        .insertInto('stored_destinations')
        .values({ env_id, dest_id, config: json, created_at_ms: at, updated_at_ms: at })
        .onConflict((oc) =>
          oc.columns(['env_id', 'dest_id']).doUpdateSet({ config: json, updated_at_ms: at }),
        )
        .execute();
      await bumpDefinitionVersion(tx, 'stored_destinations');
    });
  }

  async forgetStoredDestination(env_id: string, dest_id: string) {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .deleteFrom('stored_destinations')
        .where('env_id', '=', env_id)
        .where('dest_id', '=', dest_id)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await bumpDefinitionVersion(tx, 'stored_destinations');
      return true;
    });
  }

  async storedDestinationsVersion() {
    return definitionVersion(this.db, 'stored_destinations');
  }

  async revokeSession(session_id: string, expires_at_ms: number, now_ms: number) {
    await this.db.deleteFrom('revoked_sessions').where('expires_at_ms', '<=', now_ms).execute();
    await this.db
      .insertInto('revoked_sessions')
      .values({ session_id, expires_at_ms })
      .onConflict((oc) => oc.column('session_id').doNothing())
      .execute();
  }

  async sessionRevoked(session_id: string) {
    const row = await this.db
      .selectFrom('revoked_sessions')
      .select('session_id')
      .where('session_id', '=', session_id)
      .executeTakeFirst();
    return row !== undefined;
  }

  async getTriggerRules(env_id: string) {
    const row = await this.db
      .selectFrom('trigger_rules')
      .select(['rules', 'updated_at_ms'])
      .where('env_id', '=', env_id)
      .executeTakeFirst();
    return row
      ? { rules: JSON.parse(row.rules) as TriggerRule[], updated_at_ms: Number(row.updated_at_ms) }
      : null;
  }

  async putTriggerRules(env_id: string, rules: readonly TriggerRule[], now_ms: number) {
    const json = JSON.stringify(rules);
    await this.db
      .insertInto('trigger_rules')
      .values({ env_id, rules: json, updated_at_ms: now_ms })
      .onConflict((oc) => oc.column('env_id').doUpdateSet({ rules: json, updated_at_ms: now_ms }))
      .execute();
  }
}
