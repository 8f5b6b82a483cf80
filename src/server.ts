import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { AudienceService } from './audiences/audience-service.js';
import { audienceSyncJobs } from './audiences/audience-sync.js';
import { HoldoutService } from './audiences/holdouts.js';
import { adminTokenVerdict } from './config/admin-token-check.js';
import { ConfigError } from './config/config-load.js';
import type { SecretSource } from './config/config-parse.js';
import { DestinationCatalog } from './delivery/catalog.js';
import type { HttpSend } from './delivery/destinations/adapter.js';
import { eventAgeLimitS } from './delivery/event-age.js';
import { destinationSend } from './delivery/guarded-send.js';
import { deadLocalOwners, newLeaseOwner } from './delivery/lease-owner.js';
import { platformTraits } from './delivery/platform-traits.js';
import { DeliveryWorker } from './delivery/worker.js';
import type { AppConfig } from './domain/config-types.js';
import { addressAllowance } from './domain/private-address.js';
import { retentionCutoffs } from './domain/retention.js';
import { buildApp } from './http/app.js';
import { Metrics } from './http/metrics.js';
import { environmentForKey } from './http/request/key-check.js';
import { servedAsset } from './http/served-asset.js';
import type { Services } from './http/services.js';
import { seededCopySources } from './ingest/copy-sources.js';
import { appLookup } from './ingest/eligibility.js';
import { IngestPipeline, PG_EVENT_BATCHES_IN_FLIGHT } from './ingest/ingest-pipeline.js';
import { LiveBus } from './ingest/live-bus.js';
import { VisitGate } from './ingest/visit-gate.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';

const PURGE_EVERY_MS = 3_600_000;
/** How often audience members are moved in and out as their windows pass, and due scheduled syncs run. */
const AUDIENCE_SWEEP_MS = 60_000;
const TAG_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public', 't.js');

const RULES_PATH = path.join(path.dirname(TAG_PATH), 'rules.js');
const VIEW_TAG_PATH = path.join(path.dirname(TAG_PATH), 'v.js');

function loadTag(): Services['tag'] {
  if (!existsSync(TAG_PATH)) return null;
  const js = readFileSync(TAG_PATH);
  return {
    js,
    gzip: gzipSync(js, { level: 9 }),
    etag: `"${createHash('sha256').update(js).digest('hex').slice(0, 16)}"`,
  };
}

const ID_BYTES = 16;
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idOffset = ID_POOL_BYTES;

/**
 * Random ids: 128 bits, URL-safe. Random bytes are drawn 4 KB at a time: one
 * `randomBytes` call per pixel hit showed up as several µs in profiles.
 */
export function newId(prefix: string): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return prefix + id;
}

/** Bytes of a browser id's time prefix: milliseconds, big-endian (good until year 10889). */
const TIME_PREFIX_BYTES = 6;

/**
 * A new browser id (`ptid`): 128 bits, URL-safe, like newId, but the first 48 bits are the
 * time in ms. Every touch row is indexed by its browser id, and most pixel hits come from
 * browsers without a cookie: ids minted together sort together, so a batch's new ids land on
 * a few index pages instead of one random page each (measured: 22 → 14 µs per touch row).
 * The id tells its holder when it was minted, nothing more.
 */
export function newBrowserId(nowMs: number): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idOffset = 0;
  }
  idPool.writeUIntBE(nowMs, idOffset, TIME_PREFIX_BYTES);
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

/** What tests may replace. */
export interface ServerOptions {
  store?: Store;
  send?: HttpSend;
  nowMs?: () => number;
  /** Where logs go instead of stdout. */
  logStream?: NodeJS.WritableStream;
  /** Where `env:NAME` secrets of destinations saved through the admin API are read from. */
  secrets?: SecretSource;
  /** false: `/i` and `POST /v1/events` are answered by Fastify, not the node:http fast paths (tests). */
  fastPaths?: boolean;
}

/** A running pixeltrail: HTTP app, ingest pipeline, delivery worker, purge timer. */
export interface Server {
  /** The Fastify app (the type is named through buildApp: Fastify stays in src/http). */
  app: ReturnType<typeof buildApp>;
  services: Services;
  /** Listens on the config's host and port; resolves with the base URL. */
  listen(): Promise<string>;
  /** Graceful stop: stop accepting, flush buffered writes, finish in-flight deliveries. */
  close(): Promise<void>;
}

/** Wires the store, pipeline, worker and routes from one config. */
export async function createServer(config: AppConfig, opts: ServerOptions = {}): Promise<Server> {
  const tokenVerdict = adminTokenVerdict(config);
  if (tokenVerdict.refuse) throw new ConfigError(tokenVerdict.refuse);
  const store = opts.store ?? openStore(config);
  await store.migrate();
  // Postbacks that came before their app was listed in `apps` belong to its environment now.
  await store.claimPostbacks(
    config.apps
      .filter((a) => a.platform === 'ios')
      .map((a) => ({ app_id: a.app_id, env_id: a.env_id })),
  );
  const nowMs = opts.nowMs ?? Date.now;
  // Problems found before the app (and its logger) exists are logged once it does.
  const early: string[] = [];
  let destinationError = (message: string): void => {
    early.push(message);
  };
  const destinations = new DestinationCatalog({
    config,
    store,
    secrets: opts.secrets,
    onError: (message) => destinationError(message),
  });
  // Before anything reads a destination: saved ones apply from the first request on.
  await destinations.reload();
  const sealed = await destinations.sealStoredSecrets();
  const metrics = new Metrics();
  const live = new LiveBus();
  const send = opts.send ?? destinationSend(addressAllowance(config.allow_private_destinations));
  // Destinations change at run time (admin API, other processes): read the catalog's
  // current snapshot at each use, never `config`, which is the file's.
  const environment = (id: string) => destinations.environment(id);
  const holdouts = new HoldoutService({
    store,
    nowMs,
    newId,
    onError: (message) => app.log.error({ message }, 'holdout reload failed'),
  });
  const audiences = new AudienceService({
    store,
    holdouts,
    nowMs,
    newId,
    destination: (env_id, dest_id) => destinations.destination(env_id, dest_id),
    onJobsQueued: () => worker.wake(),
    onError: (message) => app.log.error({ message }, 'audience update failed'),
  });
  const copies = await seededCopySources(store, nowMs());
  const apps = appLookup(config.apps);
  const pipeline = new IngestPipeline({
    store,
    nowMs,
    flushIntervalMs: config.flush_interval_ms,
    eventBatchesInFlight: store.dialect === 'postgres' ? PG_EVENT_BATCHES_IN_FLIGHT : 1,
    context: () => ({ environment, newId, platforms: platformTraits, copies, apps }),
    observer: {
      touchesCommitted: (touches) => {
        metrics.batchSize.observe(touches.length);
        audiences.noteTouches(touches);
        live.publishTouches(touches, nowMs());
      },
      viewsCommitted: (views) => live.publishViews(views, nowMs()),
      eventsCommitted: (events, outcomes) => {
        metrics.batchSize.observe(events.length);
        // Counted per batch, one increment per label set: prom-client hashes the labels of
        // every call, and a batch of single events shares one or two sets.
        const tally = new Map<string, { source: string; result: string; n: number }>();
        for (const [i, e] of events.entries()) {
          const o = outcomes[i];
          const key = `${e.source}\u0000${o.status}`;
          const t = tally.get(key);
          if (t) t.n++;
          else tally.set(key, { source: e.source, result: o.status, n: 1 });
          if (o.status === 'accepted')
            for (const check of o.fraud ?? [])
              metrics.installFraud.inc({ env_id: e.env_id, check });
        }
        for (const { source, result, n } of tally.values())
          metrics.events.inc({ source, result }, n);
        audiences.noteEvents(events);
        const items = events.map((event) => ({ kind: 'event' as const, event }));
        live.publishBatch(items, outcomes, nowMs());
      },
      failed: (kind, n, error) => {
        metrics.writesLost.inc({ kind }, n);
        app.log.error({ err: error, kind, items: n }, 'group commit failed');
      },
      dropped: (kind, reason, n) => metrics.dropped.inc({ kind, reason }, n),
    },
  });
  const worker = new DeliveryWorker({
    store,
    config: () => destinations.current(),
    send,
    nowMs,
    random: Math.random,
    owner: newLeaseOwner('serve'),
    refreshDestinations: () => destinations.poll(),
    jobs: [audienceSyncJobs(store)],
    observer: {
      attempted: (d, verdict, detail) => {
        metrics.deliveries.inc({ env_id: d.outbox.env_id, dest_id: d.outbox.dest_id, verdict });
        if (verdict !== 'done') {
          app.log.warn(
            { outbox_id: d.outbox.id, dest_id: d.outbox.dest_id, verdict, detail },
            'delivery not completed',
          );
        }
      },
      paused: (env_id, dest_id, reason) =>
        app.log.error(
          { env_id, dest_id, reason },
          'destination paused: fix its credentials, then POST /api/destinations/:env_id/:dest_id/resume',
        ),
      workerError: (message) => app.log.error({ message }, 'delivery worker error'),
    },
  });
  const services: Services = {
    get config() {
      return destinations.current();
    },
    store,
    pipeline,
    worker,
    audiences,
    holdouts,
    destinations,
    send,
    metrics,
    live,
    nowMs,
    newId,
    newBrowserId: () => newBrowserId(nowMs()),
    eventAgeLimitS,
    visits: new VisitGate(),
    environment,
    environmentByWriteKey: (k) => environmentForKey(destinations.current().environments, k),
    tag: loadTag(),
    rulesEngine: existsSync(RULES_PATH) ? readFileSync(RULES_PATH) : null,
    viewTag: existsSync(VIEW_TAG_PATH) ? servedAsset(readFileSync(VIEW_TAG_PATH)) : null,
    logStream: opts.logStream,
  };
  const app = buildApp(services, { fastPaths: opts.fastPaths });
  destinationError = (message) => app.log.error({ message }, 'destinations');
  for (const message of early) destinationError(message);
  if (tokenVerdict.warn) app.log.warn(tokenVerdict.warn);
  if (!destinations.encryptsSecrets)
    app.log.warn(
      'secrets_key is not set: secrets of destinations saved through the admin API are stored in clear in the database (set secrets_key, or its environment variable, to encrypt them)',
    );
  else {
    if (sealed.sealed > 0)
      app.log.info(
        { destinations: sealed.sealed },
        'encrypted the secrets saved before secrets_key was set',
      );
    if (sealed.resealed > 0)
      app.log.info(
        { destinations: sealed.resealed },
        'encrypted again with secrets_key the secrets sealed with a key of secrets_key_previous',
      );
  }
  let purgeTimer: NodeJS.Timeout | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  const sweep = async () => {
    await audiences.sweep(config.environments.map((e) => e.id)).catch((e: unknown) => {
      app.log.error({ err: e }, 'audience sweep failed');
    });
    await audiences.runScheduledSyncs().catch((e: unknown) => {
      app.log.error({ err: e }, 'scheduled audience syncs failed');
    });
  };
  // A close cancels a partition's index build (one can take minutes on a large store).
  const indexingStop = new AbortController();
  const purge = async () => {
    try {
      await store.ensurePartitions(nowMs());
      const report = await store.purge(retentionCutoffs(config, nowMs()));
      if (report.touches + report.events + report.audience_batches_emptied > 0)
        app.log.info({ purged: report }, 'retention purge');
    } catch (e) {
      app.log.error({ err: e }, 'purge failed');
    }
  };
  // Apart from the purge, which must not wait hours for a first build on a large store.
  const indexPartitions = async () => {
    try {
      const run = await store.buildPartitionIndexes(indexingStop.signal);
      if (run.attached > 0) app.log.info({ partitions: run.attached }, 'indexed partitions');
      if (run.failed.length > 0)
        app.log.warn({ failed: run.failed }, 'partitions left to index at the next run');
    } catch (e) {
      app.log.error({ err: e }, 'indexing partitions failed');
    }
  };

  // The purge and the sweep in flight: close() lets them end before the store closes, else
  // their next statement fails on a closed store (and is logged as a failed purge).
  const purges = oneAtATime(purge);
  const indexing = oneAtATime(indexPartitions);
  const sweeps = oneAtATime(sweep);

  return {
    app,
    services,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const released = await store.releaseLeases(deadLocalOwners(await store.leaseOwners(nowMs())));
      if (released > 0)
        app.log.warn({ released }, 'took back deliveries leased by a process that died');
      worker.start();
      destinations.start();
      audiences.start();
      holdouts.start();
      const upkeep = () => void purges.start().then(() => indexing.start());
      upkeep();
      purgeTimer = setInterval(upkeep, PURGE_EVERY_MS);
      purgeTimer.unref();
      sweepTimer = setInterval(() => void sweeps.start(), AUDIENCE_SWEEP_MS);
      sweepTimer.unref();
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      return `http://127.0.0.1:${port}`;
    },
    async close() {
      if (purgeTimer) clearInterval(purgeTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      indexingStop.abort();
      await app.close();
      await destinations.stop();
      await audiences.stop();
      await holdouts.stop();
      await pipeline.close();
      await audiences.settle();
      await worker.stop();
      await purges.running();
      await indexing.running();
      await sweeps.running();
      await store.close();
    },
  };
}

/** `run`, never twice at once: a start while it runs shares that run; `running()` is it. */
function oneAtATime(run: () => Promise<void>) {
  let current: Promise<void> | null = null;
  return {
    start: () => {
      current ??= run().finally(() => {
        current = null;
      });
      return current;
    },
    running: () => current,
  };
}
