import type { Kysely, Migration } from 'kysely';
import { defineMigration } from './define.js';

/**
 * Review of issue 25: an install's conversions keep what its fraud checks decided at ingest
 * (`fraud_verdicts`, JSON: the settings, the clicks judged flooding, why it looked sent by no
 * phone), so the debugger explains that decision instead of judging again with click counts
 * made after the install or an address the store keeps only as a hash. Null for other events
 * and for rows written before. Read with the row, never searched: no index.
 */
export const fraudVerdictsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('conversions').addColumn('fraud_verdicts', 'text').execute();
  },
};

export default defineMigration('0033_fraud_verdicts', fraudVerdictsMigration);
