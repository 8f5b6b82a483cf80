import { parseDestinationConfig, type SecretSource, secretFields } from '../config/config-parse.js';
import { ConfigSnapshot } from '../config/config-snapshot.js';
import { urlsNotInFile } from '../config/destination-urls.js';
import { SecretBox } from '../config/secret-box.js';
import { VersionPoller } from '../config/version-poller.js';
import type { AppConfig, DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';
import type { FieldError } from '../domain/validation-error.js';
import type { Store } from '../store/store.js';
import { adapterFor } from './destinations/registry.js';

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
 * The config the file gave is never changed: each reload makes a new, frozen snapshot of it
 * with every environment's merged `destinations` (config/config-snapshot.ts), and `current()` is
 * how ingest, attribution, the delivery worker, health, reports and the routes read it
 * (`services.config`), so an edit takes effect everywhere without a restart. Other
 * processes on the same store poll the table's version stamp (VersionPoller) and reload
 * when it moves.
 */
export class DestinationCatalog {
  private readonly fromFile = new Map<string, DestinationConfig[]>();
  private sources = new Map<string, DestinationSource>();
  private snapshot: ConfigSnapshot;
  private readonly poller: VersionPoller;
  /** Seals secrets before they are saved; null without a `secrets_key`. */
  private readonly box: SecretBox | null;
  /** Reloads started, and the latest of them whose result is in use. */
  private reloads = 0;
  private applied = 0;

  constructor(private readonly deps: CatalogDeps) {
    const { secrets_key, secrets_key_previous } = deps.config;
    this.box = secrets_key ? SecretBox.fromKey(secrets_key, secrets_key_previous) : null;
    this.poller = new VersionPoller({
      version: () => deps.store.storedDestinationsVersion(),
      reload: () => this.rebuild(),
      onError: (message) => deps.onError(`destination reload failed: ${message}`),
    });
    this.snapshot = ConfigSnapshot.of(deps.config);
    for (const env of deps.config.environments) {
      this.fromFile.set(env.id, [...env.destinations]);
      for (const d of env.destinations) this.sources.set(`${env.id}/${d.id}`, 'file');
    }
  }

  /** The config as it stands now; the next reload replaces it, never changes it. */
  current(): AppConfig {
    return this.snapshot.config;
  }

  /** An environment of the current config. */
  environment(env_id: string): EnvironmentConfig | undefined {
    return this.snapshot.environment(env_id);
  }

  /** A destination in use now (the file's, or the one saved over it). */
  destination(env_id: string, dest_id: string): DestinationConfig | undefined {
    return this.snapshot.destination(env_id, dest_id);
  }

  /** Checks a destination in the config file's form, as the file's are (`env:NAME` included). */
  parse(raw: unknown): ReturnType<typeof parseDestinationConfig> {
    return parseDestinationConfig(raw, this.deps.secrets);
  }

  /** Whether saved secrets are encrypted (a `secrets_key` is configured). */
  get encryptsSecrets(): boolean {
    return this.box !== null;
  }

  /**
   * The destination as it is to be saved: with a `secrets_key`, every secret typed in is
   * sealed (AES-256-GCM, bound to env, destination and field); `env:NAME` references stay
   * as they are, since they hold no secret.
   */
  sealForStore(env_id: string, raw: Record<string, unknown>): Record<string, unknown> {
    const { box } = this;
    if (!box) return raw;
    const out = { ...raw };
    for (const key of secretsOf(raw)) {
      const v = out[key];
      if (typeof v !== 'string' || v.startsWith('env:') || SecretBox.isSealed(v)) continue;
      out[key] = box.seal(v, secretContext(env_id, raw, key));
    }
    return out;
  }

  /** A saved destination with its sealed secrets opened, or why one cannot be. */
  private openStored(
    env_id: string,
    raw: Record<string, unknown>,
  ): { raw: Record<string, unknown>; errors: FieldError[] } {
    const out = { ...raw };
    const errors: FieldError[] = [];
    for (const key of secretsOf(raw)) {
      const v = out[key];
      if (!SecretBox.isSealed(v)) continue;
      if (!this.box) {
        errors.push({ field: key, message: 'is encrypted, and no secrets_key is configured' });
        continue;
      }
      const opened = this.box.open(v, secretContext(env_id, raw, key));
      if (opened.ok) out[key] = opened.value;
      else errors.push({ field: key, message: opened.reason });
    }
    return { raw: out, errors };
  }

  /**
   * With a `secrets_key`, seals the secrets that saved destinations still keep in clear
   * (saved before the key was set), and seals again with `secrets_key` those a previous key
   * sealed (`secrets_key_previous`, a rotation); answers how many destinations were
   * rewritten for each reason.
   */
  async sealStoredSecrets(): Promise<{ sealed: number; resealed: number }> {
    const counts = { sealed: 0, resealed: 0 };
    if (!this.box) return counts;
    for (const row of await this.deps.store.storedDestinations()) {
      if (!row.config) continue;
      const current = this.resealStale(row.env_id, row.config);
      const next = this.sealForStore(row.env_id, current);
      if (JSON.stringify(next) === JSON.stringify(row.config)) continue;
      // Another process may edit or delete it meanwhile: its write wins, and was sealed.
      if (!(await this.deps.store.resealStoredDestination(row, next))) continue;
      if (current !== row.config) counts.resealed++;
      else counts.sealed++;
    }
    if (counts.sealed + counts.resealed > 0) await this.reload();
    return counts;
  }

  /** `raw` with the secrets a previous key sealed sealed again with the current one. */
  private resealStale(env_id: string, raw: Record<string, unknown>): Record<string, unknown> {
    const { box } = this;
    let out = raw;
    for (const key of secretsOf(raw)) {
      const v = raw[key];
      if (!box || !SecretBox.isSealed(v)) continue;
      const context = secretContext(env_id, raw, key);
      const opened = box.open(v, context);
      // One that opens with no key stays as it is: the destination is reported unusable.
      if (!opened.ok || !opened.stale) continue;
      if (out === raw) out = { ...raw };
      out[key] = box.seal(opened.value, context);
    }
    return out;
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
    const started = ++this.reloads;
    const rows = await this.deps.store.storedDestinations();
    // A reload that started later read at least as much: this one's rows may predate a save.
    if (started < this.applied) return;
    this.applied = started;
    const envs = new Map<string, EnvironmentConfig>(
      this.deps.config.environments.map((e) => [e.id, e]),
    );
    const saved = new Map<string, Map<string, DestinationConfig | null>>();
    for (const row of rows) {
      if (!envs.has(row.env_id)) continue;
      let dest: DestinationConfig | null = null;
      if (row.config) {
        const opened = this.openStored(row.env_id, row.config);
        const parsed = this.parse(opened.raw);
        const errors = opened.errors.length > 0 ? opened.errors : parsed.errors;
        if (errors.length > 0) {
          const what = errors.map((e) => `${e.field} ${e.message}`).join('; ');
          this.deps.onError(`saved destination ${row.env_id}/${row.dest_id} not used: ${what}`);
          continue;
        }
        // Made or edited through the admin API: sent to public addresses only, unless the
        // edit kept every address of the config file's definition.
        const file = this.fileDestination(row.env_id, row.dest_id);
        const aimed = !file || urlsNotInFile(parsed.dest, file).length > 0;
        dest = aimed ? { ...parsed.dest, from_api: true } : parsed.dest;
      }
      const m = saved.get(row.env_id) ?? new Map<string, DestinationConfig | null>();
      m.set(row.dest_id, dest);
      saved.set(row.env_id, m);
    }
    const sources = new Map<string, DestinationSource>();
    const lists = new Map<string, DestinationConfig[]>();
    for (const env of envs.values()) {
      const mine = saved.get(env.id) ?? new Map<string, DestinationConfig | null>();
      const merged: DestinationConfig[] = [];
      for (const d of this.fromFile.get(env.id) ?? []) {
        const over = mine.get(d.id);
        if (over === null) continue;
        merged.push(over ?? d);
        sources.set(`${env.id}/${d.id}`, over ? 'store_override' : 'file');
      }
      for (const [id, d] of mine) {
        if (!d || sources.has(`${env.id}/${id}`)) continue;
        merged.push(d);
        sources.set(`${env.id}/${id}`, 'store');
      }
      lists.set(env.id, merged);
    }
    this.snapshot = ConfigSnapshot.of(this.deps.config, lists);
    this.sources = sources;
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

/** The secret fields of a destination in file form, by its type. */
function secretsOf(raw: Record<string, unknown>): string[] {
  const adapter = typeof raw.type === 'string' ? adapterFor(raw.type) : undefined;
  return adapter ? secretFields(adapter.settingsSchema) : [];
}

/** What a sealed secret is bound to: a value copied to another field or destination fails. */
function secretContext(env_id: string, raw: Record<string, unknown>, field: string): string {
  return `${env_id}/${String(raw.id)}/${field}`;
}
