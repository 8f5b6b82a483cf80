import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config-parse.js';
import type { Store, StoredDestinationRow } from '../store/store.js';
import { DestinationCatalog } from './catalog.js';

/** A store whose reads of the saved destinations answer only when the test lets them. */
function slowStore() {
  let rows: StoredDestinationRow[] = [];
  let writes = 0;
  const held: Array<() => void> = [];
  const later = <T>(value: () => T) =>
    new Promise<T>((resolve) => held.push(() => resolve(value())));
  const store = {
    storedDestinationsVersion: () => {
      const v = `${rows.length}:${writes}`;
      return later(() => v);
    },
    storedDestinations: () => {
      const now = rows;
      return later(() => now);
    },
  } as unknown as Store;
  return {
    store,
    held,
    save(row: StoredDestinationRow) {
      rows = [...rows, row];
      writes++;
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('destination catalog', () => {
  it('DC01 a reload that read before a save cannot put back the list from before it', async () => {
    const { config } = parseConfig(
      {
        admin_token: 'adm',
        environments: [
          {
            id: 'env_t',
            name: 'Shop',
            write_key: 'wk_t',
            destinations: [{ id: 'dsp1', type: 'webhook', url: 'http://127.0.0.1:9/a' }],
          },
        ],
      },
      {},
    );
    const fake = slowStore();
    const catalog = new DestinationCatalog({ config, store: fake.store, onError: () => {} });
    // A poll's reload starts and reads the version and rows of before the save…
    const stale = catalog.reload();
    fake.held.shift()?.();
    await flush();
    // …the admin API saves a destination and reloads, which completes first…
    fake.save({
      env_id: 'env_t',
      dest_id: 'dsp2',
      config: { id: 'dsp2', type: 'webhook', url: 'http://127.0.0.1:9/b' },
      created_at_ms: 1,
      updated_at_ms: 1,
    });
    const fresh = catalog.reload();
    while (fake.held.length > 1) {
      fake.held.pop()?.();
      await flush();
    }
    await flush();
    // …then the old reload's row read answers.
    fake.held.shift()?.();
    await Promise.all([stale, fresh]);
    expect(catalog.current().environments[0].destinations.map((d) => d.id)).toEqual([
      'dsp1',
      'dsp2',
    ]);
    // The file's config is a snapshot never changed in place; the catalog made a new one.
    expect(config.environments[0].destinations.map((d) => d.id)).toEqual(['dsp1']);
    expect(Object.isFrozen(catalog.current().environments[0].destinations)).toBe(true);
    expect(catalog.sourceOf('env_t', 'dsp2')).toBe('store');
  });
});
