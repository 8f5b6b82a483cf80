import type { AppConfig, EnvironmentConfig } from '../config/config-types.js';
import type { DeliveryWorker } from '../delivery/delivery-worker.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';

/** What the HTTP routes work with; built once by the server (STYLE rule 11). */
export interface Services {
  config: AppConfig;
  store: Store;
  pipeline: IngestPipeline;
  worker: DeliveryWorker;
  metrics: Metrics;
  nowMs: () => number;
  newId: (prefix: string) => string;
  environment: (env_id: string) => EnvironmentConfig | undefined;
  environmentByWriteKey: (key: string) => EnvironmentConfig | undefined;
  /** Where logs go instead of stdout (tests capture them). */
  logStream?: NodeJS.WritableStream;
  /** The bundled tag, if it was built. */
  tag: { js: Buffer; gzip: Buffer; etag: string } | null;
}
