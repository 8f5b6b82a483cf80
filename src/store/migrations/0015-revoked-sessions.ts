import { type Kysely, type Migration, sql } from 'kysely';
import { type Dialect, defineMigration } from './define.js';

/**
 * 0012_revoked_sessions: dashboard sessions ended by logging out. A session cookie is
 * stateless (an HMAC, admin-session.ts), so a copy of it would live until it expires; every
 * process checks this list, so logging out ends the session everywhere. A row is kept only
 * until the session would have expired anyway. A small global table: with Citus it would
 * be a reference table.
 */
export function revokedSessionsMigration(dialect: Dialect): Migration {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('revoked_sessions')
        .addColumn('session_id', 'text', (c) => c.primaryKey())
        .addColumn('expires_at_ms', sql.raw(big), (c) => c.notNull())
        .execute();
    },
  };
}

export default defineMigration('0012_revoked_sessions', revokedSessionsMigration);
