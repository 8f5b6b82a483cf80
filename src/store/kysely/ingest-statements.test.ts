import { describe, expect, it } from 'vitest';
import { IngestStatements, numberedPlaceholders } from './ingest-statements.js';
import { postgresPartitionedReads } from './ingest-tx.js';
import { PreparedTexts } from './prepared-statements.js';
import { SET_WISE_PARTITIONED_READS } from './set-wise-ingest.js';

describe('IngestStatements.reserve', () => {
  it('IS01 the reads of partitioned tables keep their names however many other texts come first', async () => {
    const prepared = new PreparedTexts();
    const statements = new IngestStatements('postgres', prepared);
    const reads = [...SET_WISE_PARTITIONED_READS, ...postgresPartitionedReads()];
    statements.reserve(reads);
    // Texts made per call (an identity link of many keys) fill the set of names.
    const db = {
      executeQuery: () => Promise.resolve({ rows: [] }),
    } as unknown as Parameters<IngestStatements['run']>[0];
    for (let n = 0; n < 500; n++) await statements.run(db, `select ${n} where ? = ?`, [1, 1]);
    expect(prepared.nameOf(numberedPlaceholders('select 499 where ? = ?'))).toBeUndefined();
    for (const text of reads) expect(prepared.nameOf(numberedPlaceholders(text))).toBeDefined();
    // findTouches' unions: every key alone and every run of keys, once each.
    expect(new Set(reads).size).toBe(reads.length);
    expect(reads.filter((t) => t.includes(' union all select k')).length).toBeGreaterThanOrEqual(
      11,
    );
  });
});
