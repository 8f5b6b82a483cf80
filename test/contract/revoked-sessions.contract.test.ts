import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Revoked sessions on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('RS01 a revoked session stays revoked, others are not; revoking twice is fine', async () => {
      await store.revokeSession('nonce-a', 5000, 1000);
      await store.revokeSession('nonce-a', 5000, 1000);
      expect(await store.sessionRevoked('nonce-a')).toBe(true);
      expect(await store.sessionRevoked('nonce-b')).toBe(false);
    });

    it('RS02 revocations are forgotten once the session would have expired anyway', async () => {
      await store.revokeSession('nonce-c', 2000, 1000);
      await store.revokeSession('nonce-d', 9000, 2500);
      expect(await store.sessionRevoked('nonce-c')).toBe(false);
      expect(await store.sessionRevoked('nonce-d')).toBe(true);
    });
  });
}
