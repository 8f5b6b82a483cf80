import type { AudienceService } from '../audiences/audience-service.js';
import type { HoldoutService } from '../audiences/holdouts.js';
import type { DestinationCatalog } from '../delivery/catalog.js';
import type { HttpSend } from '../delivery/destinations/adapter.js';
import type { DeliveryWorker } from '../delivery/worker.js';
import type { AppConfig, EnvironmentConfig } from '../domain/config-types.js';
import type { IngestDeps } from '../ingest/ingest.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { LiveBus } from '../ingest/live-bus.js';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';
import type { ServedAsset } from './served-asset.js';

/** What the HTTP routes work with; built once by the server (STYLE rule 11). */
export interface Services {
  /**
   * The config as it stands: a frozen snapshot, replaced (never changed) when destinations
   * change (DestinationCatalog.current()). Read it where it is used; do not keep it.
   */
  readonly config: AppConfig;
  store: Store;
  pipeline: IngestPipeline;
  worker: DeliveryWorker;
  audiences: AudienceService;
  /** Holdouts of audiences and campaigns (issue 23). */
  holdouts: HoldoutService;
  /** The destinations in use (config file merged with those saved through the API). */
  destinations: DestinationCatalog;
  /** The HTTP client destinations are sent with (test sends from the dashboard use it). */
  send: HttpSend;
  metrics: Metrics;
  /** Committed writes, fanned out to live debugger streams. */
  live: LiveBus;
  nowMs: () => number;
  newId: (prefix: string) => string;
  /** How old an event may be for the destinations that get it (delivery/event-age.ts). */
  eventAgeLimitS: IngestDeps['eventAgeLimitS'];
  /** Recent visits: their repeats are not written again (ingest/visit-gate.ts). */
  visits: IngestDeps['visits'];
  /** A new `ptid` value (time-prefixed, so that new ids share index pages). */
  newBrowserId: () => string;
  environment: (env_id: string) => EnvironmentConfig | undefined;
  /** The environment of a write key, given as text or as its digest (key-check.ts). */
  environmentByWriteKey: (key: string | Buffer) => EnvironmentConfig | undefined;
  /** Where logs go instead of stdout (tests capture them). */
  logStream?: NodeJS.WritableStream;
  /** The bundled tag, if it was built. */
  tag: { js: Buffer; gzip: Buffer; etag: string } | null;
  /** The built viewability tag (`/v.js`, issue 24), if it was built. */
  viewTag?: ServedAsset | null;
  /** The built codeless-trigger engine (`rules.js`), if it was built. */
  rulesEngine?: Buffer | null;
}
