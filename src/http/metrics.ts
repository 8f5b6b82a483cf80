import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** A counter child for the hot path: `inc` adds 1 to a plain number (see Metrics.tallied). */
export interface TalliedChild {
  inc(): void;
}

interface Tally {
  labels: Partial<Record<string, string>>;
  n: number;
}

/**
 * The process's own metrics (CPU, memory, heap, event-loop lag, GC), collected once per
 * process: prom-client's collectDefaultMetrics starts a GC observer and an event-loop monitor
 * that are never stopped, so one per server stayed running after the server closed, and a
 * process that starts many servers (the integration tests) ran all of them on every GC.
 */
let processRegistry: Registry | null = null;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'pixeltrail_' });
  }
  return processRegistry;
}

/** The Prometheus metrics of one server, in a registry of its own, and the process's. */
export class Metrics {
  readonly registry = new Registry();
  /** Hot-path children's counts by counter, not yet added to it (see tallied). */
  private readonly tallies = new Map<Counter<string>, Tally[]>();
  readonly hits: Counter<'endpoint'> = new Counter({
    name: 'pixeltrail_hits_total',
    help: 'Requests to the collection endpoints, by endpoint',
    labelNames: ['endpoint'],
    registers: [this.registry],
    collect: () => this.addTallies(this.hits),
  });
  /** Installs whose fraud checks fired (issue 25), by environment and check. */
  readonly installFraud = new Counter({
    name: 'pixeltrail_install_fraud_total',
    help: 'Installs a fraud check fired for (click_injection, click_flooding, suspicious_install), by environment',
    labelNames: ['env_id', 'check'],
    registers: [this.registry],
  });
  readonly invalidHits: Counter<'endpoint' | 'reason'> = new Counter({
    name: 'pixeltrail_invalid_hits_total',
    help: 'Pixel, beacon and API inputs that could not be used, by endpoint and reason',
    labelNames: ['endpoint', 'reason'],
    registers: [this.registry],
    collect: () => this.addTallies(this.invalidHits),
  });
  /**
   * Pixel and click hits per destination, `env_id\ndest_id` → count: tallied as plain numbers
   * on the pixel's hot path (a labelled `inc` hashes its labels every time) and copied into
   * `destinationHits` when it is read.
   */
  readonly destinationTally = new Map<string, { env_id: string; dest_id: string; n: number }>();
  /** Pixel and click hits per destination (`dest_id` '' for none): the share below's base. */
  readonly destinationHits: Counter<'env_id' | 'dest_id'> = new Counter({
    name: 'pixeltrail_destination_hits_total',
    help: 'Pixel and click hits that named an environment, by destination (empty: none named)',
    labelNames: ['env_id', 'dest_id'],
    registers: [this.registry],
    collect: () => {
      this.destinationHits.reset();
      for (const t of this.destinationTally.values())
        this.destinationHits.inc({ env_id: t.env_id, dest_id: t.dest_id }, t.n);
    },
  });
  /** Hits carrying an ad-server macro the ad server did not fill in, by parameter. */
  readonly unexpandedMacros = new Counter({
    name: 'pixeltrail_unexpanded_macros_total',
    help: 'Pixel and click parameters that held an unexpanded ad-server macro (value dropped)',
    labelNames: ['env_id', 'dest_id', 'endpoint', 'param'],
    registers: [this.registry],
  });
  /** Hits with at least one unexpanded macro, by destination. */
  readonly macroHits = new Counter({
    name: 'pixeltrail_macro_hits_total',
    help: 'Pixel and click hits with at least one unexpanded ad-server macro, by destination',
    labelNames: ['env_id', 'dest_id'],
    registers: [this.registry],
  });
  /** SKAdNetwork / AdAttributionKit postbacks by result: verified, duplicate, or why not. */
  readonly postbacks = new Counter({
    name: 'pixeltrail_apple_postbacks_total',
    help: 'Apple postbacks received, by framework and result (verified, duplicate, conflicting_replay, bad_signature, malformed, …)',
    labelNames: ['framework', 'result'],
    registers: [this.registry],
  });
  /** Unverified postbacks counted but not stored: their environment's hourly sample was full. */
  readonly postbacksNotKept = new Counter({
    name: 'pixeltrail_apple_postbacks_not_kept_total',
    help: 'Unverified Apple postbacks counted but not stored (the hour sample of their environment was full), by framework and result',
    labelNames: ['framework', 'result'],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'pixeltrail_events_total',
    help: 'Events stored, by source and result (accepted, duplicate)',
    labelNames: ['source', 'result'],
    registers: [this.registry],
  });
  readonly writesLost = new Counter({
    name: 'pixeltrail_writes_failed_total',
    help: 'Queued writes whose transaction failed (touches are retried, events answered 503)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'pixeltrail_ingest_dropped_total',
    help: 'Writes not taken: queue full (overload, store down), closed, or lost after retries',
    labelNames: ['kind', 'reason'],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'pixeltrail_write_batch_items',
    help: 'Items committed per group-commit transaction',
    buckets: [1, 10, 50, 100, 500, 1000, 2000],
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'pixeltrail_deliveries_total',
    help: 'Delivery attempts by destination and verdict',
    labelNames: ['env_id', 'dest_id', 'verdict'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'pixeltrail_ingest_queue_items',
    help: 'Writes waiting for the next group commit',
    registers: [this.registry],
  });

  readonly connectionsOpen = new Gauge({
    name: 'pixeltrail_connections_open',
    help: 'Client connections open now (at most max_connections)',
    registers: [this.registry],
  });
  readonly connectionsShed = new Counter({
    name: 'pixeltrail_connections_shed_total',
    help: 'Connections closed at max_connections to make room for a new one (the longest waiting)',
    registers: [this.registry],
  });

  /** The tallied child of each endpoint's hits, made on its first hit. */
  private readonly hitsByEndpoint = new Map<string, TalliedChild>();

  constructor() {
    processMetrics();
  }

  /** What `/metrics` answers: this server's metrics, then the process's. */
  exposition(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }

  /**
   * A child of `counter` for one label set, counted as a plain number and added to the
   * counter whenever it is read (`/metrics`, the health page). prom-client's own child
   * (`labels()`) hashes and checks its labels on every `inc`, which showed on the pixel's
   * path. Make one per label set, once, outside the hot path.
   */
  tallied<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>): TalliedChild {
    const tally: Tally = { labels, n: 0 };
    const c = counter as unknown as Counter<string>;
    const list = this.tallies.get(c) ?? [];
    list.push(tally);
    this.tallies.set(c, list);
    return {
      inc: () => {
        tally.n++;
      },
    };
  }

  /** Counts one request to a collection endpoint (`hits`, through a tallied child). */
  hit(endpoint: string): void {
    let child = this.hitsByEndpoint.get(endpoint);
    if (!child) {
      child = this.tallied(this.hits, { endpoint });
      this.hitsByEndpoint.set(endpoint, child);
    }
    child.inc();
  }

  private addTallies(counter: Counter<string>): void {
    for (const t of this.tallies.get(counter) ?? []) {
      if (t.n === 0) continue;
      counter.inc(t.labels, t.n);
      t.n = 0;
    }
  }
}
