import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const MS = 1_763_900_000_000;

for (const kind of Object.keys(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`saved destinations on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await STORE_KINDS[kind]());
    });
    afterAll(async () => dispose?.());

    it('SD01 saves, edits and deletes a destination, keeping its creation order', async () => {
      await store.putStoredDestination('env', 'b', { id: 'b', type: 'webhook' }, MS);
      await store.putStoredDestination('env', 'a', { id: 'a', type: 'webhook' }, MS);
      await store.putStoredDestination('env', 'b', { id: 'b', type: 'meta' }, MS);
      await store.putStoredDestination('env', 'a', null, MS);
      const rows = await store.storedDestinations();
      expect(rows.map((r) => [r.dest_id, r.config?.type ?? null])).toEqual([
        ['b', 'meta'],
        ['a', null],
      ]);
      expect(rows[0].updated_at_ms).toBeGreaterThan(rows[0].created_at_ms);
    });

    it('SD02 every write and forget moves the version, even several in one millisecond', async () => {
      const seen = new Set([await store.storedDestinationsVersion()]);
      for (const config of [{ id: 'c' }, { id: 'c', events: ['Lead'] }, null]) {
        await store.putStoredDestination('env', 'c', config, MS);
        seen.add(await store.storedDestinationsVersion());
      }
      expect(seen.size).toBe(4);
      await store.putStoredDestination('env', 'd', { id: 'd' }, MS);
      const withD = await store.storedDestinationsVersion();
      expect(await store.forgetStoredDestination('env', 'd')).toBe(true);
      expect(await store.forgetStoredDestination('env', 'd')).toBe(false);
      // Forgetting moves the version on from the state before it (back to the one without d).
      expect(await store.storedDestinationsVersion()).not.toBe(withD);
    });

    it('SD03 a re-seal replaces the row only as it was read: an edit or delete since wins', async () => {
      await store.putStoredDestination('env', 'e', { id: 'e', secret: 'clear' }, MS);
      const read = async () => (await store.storedDestinations()).find((r) => r.dest_id === 'e');
      const first = await read();
      if (!first) throw new Error('e was not saved');
      const version = await store.storedDestinationsVersion();
      expect(await store.resealStoredDestination(first, { id: 'e', secret: 'enc:v1:x' })).toBe(
        true,
      );
      expect((await read())?.config).toEqual({ id: 'e', secret: 'enc:v1:x' });
      expect(await store.storedDestinationsVersion()).not.toBe(version);
      // Read, then edited by someone else, then the re-seal of what was read: refused.
      const second = await read();
      if (!second) throw new Error('e is gone');
      await store.putStoredDestination('env', 'e', { id: 'e', secret: 'edited' }, MS);
      expect(await store.resealStoredDestination(second, { id: 'e', secret: 'enc:v1:y' })).toBe(
        false,
      );
      expect((await read())?.config).toEqual({ id: 'e', secret: 'edited' });
      const third = await read();
      if (!third) throw new Error('e is gone');
      await store.putStoredDestination('env', 'e', null, MS);
      expect(await store.resealStoredDestination(third, { id: 'e', secret: 'enc:v1:z' })).toBe(
        false,
      );
      expect((await read())?.config).toBeNull();
    });
  });
}

for (const kind of Object.keys(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`planner statistics on ${kind}`, () => {
    it('ST01 refreshing statistics after a bulk load succeeds and keeps the rows', async () => {
      const { store, dispose } = await STORE_KINDS[kind]();
      try {
        await store.putStoredDestination('env', 'x', { id: 'x' }, MS);
        await store.refreshStatistics();
        expect((await store.storedDestinations()).map((r) => r.dest_id)).toEqual(['x']);
      } finally {
        await dispose();
      }
    });
  });
}
