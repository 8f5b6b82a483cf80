import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyStore } from '../kysely-store.js';
import { openSqliteStore } from '../sqlite/open-sqlite.js';
import { LINKED_ANONYMOUS_IDS } from './ingest-sql.js';

// Every event with a hashed e-mail, phone or user id looks its browsers up by those keys.
// As an OR of the pairs, SQLite searched the environment's whole index for two or more of
// them: a lookup grew with every link ever stored (17.8 ms among 100,000).

describe('the identity-link lookup of an event’s keys', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pt-ilk-'));
  let store: KyselyStore;
  beforeAll(async () => {
    store = openSqliteStore(dir);
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ILK01 reads each key by its own index range, however many keys (SQLite’s plan)', async () => {
    for (let n = 1; n <= 4; n++) {
      const params = Array.from({ length: n }, (_, i) => ['env', 'email', `v${i}`]).flat();
      const plan = await store.db.executeQuery<{ detail: string }>(
        CompiledQuery.raw(`explain query plan ${LINKED_ANONYMOUS_IDS(n)}`, params),
      );
      const details = plan.rows.map((r) => r.detail);
      const reads = details.filter((d) => /(SEARCH|SCAN) identity_links/.test(d));
      expect(reads, `${n} keys`).toHaveLength(n);
      for (const d of reads) expect(d).toMatch(/\(env_id=\? AND key_type=\? AND key_value=\?\)/);
      // Each key's links in the index's order: no sort of them.
      expect(details.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
    }
  });
});
