import type { Store } from '../store/store.js';
import { parseDestinationConfig, type SecretSource } from './config-parse.js';
import type { AppConfig, DestinationConfig, EnvironmentConfig } from './config-types.js';
import { VersionPoller } from './version-poller.js';

/** Where a destination's current definition comes from. */
export type DestinationSource = 'file' | 'store' | 'store_override';

export interface CatalogDeps {
  config: AppConfig;
  store: Store;
  /** Where `env:NAME` secrets of saved destinations are read from. */
  secrets?: SecretSource;
  onError: (message: string) => void;
}

/**
 * The destinations in use: the config file's, merged with those saved through the admin API
 * (a saved row with the same env_id and dest_id replaces the file's; a deleted row hides it).
 *
 * The merged list is written into each environment's `destinations`, the one list that
 * ingest, attribution, the delivery worker, health, reports and the routes already read, so
 * an edit takes effect everywhere without a restart. Other processes on the same store poll
 * the table's version stamp (VersionPoller) and reload when it moves.
 */
export class DestinationCatalog {
  private readonly fromFile = new Map<string, DestinationConfig[]>();
  private readonly sources = new Map<string, DestinationSource>();
  private readonly poller: VersionPoller;

  constructor(private readonly deps: CatalogDeps) {
    this.poller = new VersionPoller({
      version: () => deps.store.storedDestinationsVersion(),
      reload: () => this.rebuild(),
      onError: (message) => deps.onError(`destination reload failed: ${message}`),
    });
    for (const env of deps.config.environments) {
      this.fromFile.set(env.id, [...env.destinations]);
      for (const d of env.destinations) this.sources.set(`${env.id}/${d.id}`, 'file');
    }
  }

  /** Checks a destination in the config file's form, as the file's are (`env:NAME` included). */
  parse(raw: unknown): ReturnType<typeof parseDestinationConfig> {
    return parseDestinationConfig(raw, this.deps.secrets);
  }

  /** The definition in the config file, whatever overrides it. */
  fileDestination(env_id: string, dest_id: string): DestinationConfig | undefined {
    return this.fromFile.get(env_id)?.find((d) => d.id === dest_id);
  }

  sourceOf(env_id: string, dest_id: string): DestinationSource | undefined {
    return this.sources.get(`${env_id}/${dest_id}`);
  }

  /** Reads the saved destinations and rebuilds every environment's list. */
  reload(): Promise<void> {
    return this.poller.reload();
  }

  private async rebuild(): Promise<void> {
    const rows = await this.deps.store.storedDestinations();
    const envs = new Map<string, EnvironmentConfig>(
      this.deps.config.environments.map((e) => [e.id, e]),
    );
    const saved = new Map<string, Map<string, DestinationConfig | null>>();
    for (const row of rows) {
      if (!envs.has(row.env_id)) continue;
      let dest: DestinationConfig | null = null;
      if (row.config) {
        const parsed = this.parse(row.config);
        if (parsed.errors.length > 0) {
          const what = parsed.errors.map((e) => `${e.field} ${e.message}`).join('; ');
          this.deps.onError(`saved destination ${row.env_id}/${row.dest_id} not used: ${what}`);
          continue;
        }
        dest = parsed.dest;
      }
      const m = saved.get(row.env_id) ?? new Map<string, DestinationConfig | null>();
      m.set(row.dest_id, dest);
      saved.set(row.env_id, m);
    }
    this.sources.clear();
    for (const env of envs.values()) {
      const mine = saved.get(env.id) ?? new Map<string, DestinationConfig | null>();
      const merged: DestinationConfig[] = [];
      for (const d of this.fromFile.get(env.id) ?? []) {
        const over = mine.get(d.id);
        if (over === null) continue;
        merged.push(over ?? d);
        this.sources.set(`${env.id}/${d.id}`, over ? 'store_override' : 'file');
      }
      for (const [id, d] of mine) {
        if (!d || this.sources.has(`${env.id}/${id}`)) continue;
        merged.push(d);
        this.sources.set(`${env.id}/${id}`, 'store');
      }
      env.destinations = merged;
    }
  }

  /** Reloads when another process (or this one) changed the saved destinations. */
  poll(): Promise<void> {
    return this.poller.poll();
  }

  start(everyMs?: number): void {
    this.poller.start(everyMs);
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }
}
