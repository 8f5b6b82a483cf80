// The one ingest path (issue 21). Every collecting route — the events API, the tag's beacon,
// the event pixel, Segment's and Snowplow's endpoints, CSV imports — reads its own format,
// then hands the events here with what its request said of them (environment, consent,
// traffic, signature, the IP, user agent and cookie it was sent with). Here they are
// validated, given their consent and flags, and committed through the group commit; the
// route gets back a report: accepted, duplicates, the errors by index and field, or why
// nothing was taken (a refusal the route answers 503 + Retry-After).
import type { EnvironmentConfig } from '../domain/config-types.js';
import { decideConsent } from '../domain/consent.js';
import { type ConsentChoices, withChoices } from '../domain/consent-categories.js';
import {
  type ActionSource,
  type Consent,
  type EventSource,
  isPersonTraffic,
  type TrackedEvent,
  type Traffic,
  type UserKeys,
} from '../domain/event.js';
import { verifyEventSignature } from '../domain/event-signature.js';
import { type ValidationContext, validateEvent } from '../domain/validation.js';
import type { FieldError } from '../domain/validation-error.js';
import { visitTouchOf } from '../domain/visit-touch.js';
import type { EventOutcome } from './ingest-pipeline.js';
import { type IngestPipeline, IngestRefused } from './ingest-pipeline.js';
import { landingContext } from './source-list.js';
import type { VisitGate } from './visit-gate.js';

/** What a request said of the events it carried; one object is shared by its arrivals. */
export interface RequestFacts {
  source: EventSource;
  /**
   * The consent of a browser's request (its `Sec-GPC`, the consent macros of its query, the
   * environment's default) over what an event stated. Absent for a server's call: the event
   * keeps what it stated, under the environment's default (serverConsent).
   */
  browserConsent?: (env: EnvironmentConfig, stated: Consent) => Consent;
  /** `bot` or `prefetch`: stored flagged, never credited. */
  traffic?: Traffic;
  /** IP, user agent and cookie seen on the request: they fill what an event lacks. */
  seen?: UserKeys;
  /** The request's own address is the event's, whatever the body says (beacon, `/p`). */
  ipFromRequest?: boolean;
  /** `write_key`: the sender proved itself with the environment's write key. */
  verified?: 'write_key';
  /** The browser sent the event itself (the tag's beacon, `/p`): a copy may follow. */
  browserSent?: boolean;
  /** Events as old as their destinations still take (events API, imports); else 7 days. */
  lateEvents?: boolean;
}

/** One event as it arrived, in the contract's shape (Segment's and Snowplow's mapped). */
export interface Arrival {
  /** Its place in the request: errors are reported under it. */
  index: number;
  env: EnvironmentConfig;
  event: unknown;
  facts: RequestFacts;
  /**
   * Field names as the sender wrote them (`properties.revenue` for our `value`), made only
   * when the event is refused.
   */
  fieldNames?: () => Readonly<Record<string, string>>;
  /** Consent categories the sender's CMP stated (Segment, Snowplow). */
  choices?: ConsentChoices;
  /** A `sig` sent with a browser's conversion: verified, it marks the event `signature`. */
  signature?: unknown;
}

/** An arrival the route's own reading found unusable: its problems are reported. */
export interface UnusableArrival {
  index: number;
  problems: readonly FieldError[];
}

/** One problem of one arrival. */
export interface ArrivalError extends FieldError {
  index: number;
}

/** What became of a request's events. */
export interface IngestReport {
  /** Events stored as new (0 until committed: a `queue` ingest does not wait). */
  accepted: number;
  /** Copies of events already stored (dedup). */
  duplicates: number;
  errors: ArrivalError[];
  /** The events that passed, as they are stored (routes read consent and ids for cookies). */
  events: TrackedEvent[];
  /** Set when nothing of the request was committed; the sender retries it whole, later. */
  refused?: IngestRefused;
}

/** What ingest works with (the HTTP services are one). */
export interface IngestDeps {
  pipeline: Pick<IngestPipeline, 'recordEvents' | 'recordTouch'>;
  /** The server's recent visits: repeats of a visit are not written again (visit-gate.ts). */
  visits?: Pick<VisitGate, 'admit'>;
  worker: { wake(): void };
  nowMs: () => number;
  newId: (prefix: string) => string;
  /**
   * How old an event of this name may be: the longest window among the destinations that get
   * it (delivery/event-age.ts, given by the server's wiring so ingest imports no delivery).
   */
  eventAgeLimitS: (
    env: EnvironmentConfig | undefined,
    eventName: string,
    source: ActionSource | undefined,
  ) => number;
}

/** The consent of a server-side event: what it stated, under the environment's default. */
export function serverConsent(env: EnvironmentConfig | undefined, stated: Consent): Consent {
  return decideConsent({
    stated,
    consentDefault: env?.consent_default ?? 'granted',
    gpc: false,
    tcfVendorId: env?.tcf_vendor_id ?? null,
  });
}

/** Validates the arrivals and gives each valid one its consent and flags; nothing is written. */
export function admit(
  deps: Pick<IngestDeps, 'nowMs' | 'newId' | 'eventAgeLimitS'>,
  arrivals: readonly (Arrival | UnusableArrival)[],
): { events: TrackedEvent[]; errors: ArrivalError[] } {
  const events: TrackedEvent[] = [];
  const errors: ArrivalError[] = [];
  const nowMs = deps.nowMs();
  const newId = () => deps.newId('gen_');
  // One context for the arrivals that share an environment and facts (a request's events
  // all do): made per event, it and its closure were garbage a thousand times a batch.
  let ctx: ValidationContext | undefined;
  let ctxEnv: EnvironmentConfig | undefined;
  let ctxFacts: RequestFacts | undefined;
  for (const a of arrivals) {
    if ('problems' in a) {
      for (const p of a.problems) errors.push({ index: a.index, ...p });
      continue;
    }
    const { env, facts, index } = a;
    if (ctx === undefined || ctxEnv !== env || ctxFacts !== facts) {
      ctx = {
        nowMs,
        source: facts.source,
        envId: env.id,
        newId,
        requestUser: facts.seen,
        ipFromRequest: facts.ipFromRequest,
        landing: landingContext(env),
        maxEventAgeS: facts.lateEvents
          ? (name, src) => deps.eventAgeLimitS(env, name, src)
          : undefined,
      };
      ctxEnv = env;
      ctxFacts = facts;
    }
    const r = validateEvent(a.event, ctx);
    if (!r.ok) {
      const names = a.fieldNames?.();
      for (const e of r.errors) errors.push({ index, ...e, field: names?.[e.field] ?? e.field });
      continue;
    }
    const e = r.event;
    const stated = withChoices(e.consent, a.choices, env.consent_categories);
    e.consent = facts.browserConsent
      ? facts.browserConsent(env, stated)
      : serverConsent(env, stated);
    if (facts.browserSent) e.browser_sent = true;
    if (!isPersonTraffic(facts.traffic)) e.traffic = facts.traffic;
    if (facts.verified) e.verified = facts.verified;
    else if (a.signature !== undefined && verifyEventSignature(env.click_secret, e, a.signature))
      e.verified = 'signature';
    events.push(e);
  }
  return { events, errors };
}

/**
 * Commits admitted events; rejects with IngestRefused, none of them taken, when the queue
 * is full or closed or the commit failed. Wakes the delivery worker after a commit that
 * queued deliveries (it also polls: a round per commit cost each single-event request
 * more than its own statements; see bench/RESULTS.md).
 */
export async function commit(
  deps: Pick<IngestDeps, 'pipeline' | 'worker' | 'visits'>,
  events: readonly TrackedEvent[],
): Promise<EventOutcome[]> {
  // A landing's visit touch is queued before its event: the pipeline commits touches first,
  // so the conversion path of this very event (a purchase on the landing) sees it.
  for (const e of events) {
    const visit = visitTouchOf(e);
    if (visit && (deps.visits?.admit(visit, e.landing === undefined) ?? true))
      deps.pipeline.recordTouch(visit);
  }
  const outcomes = await deps.pipeline.recordEvents(events);
  // A copy merged into a stored event may have queued or requeued its deliveries.
  if (outcomes.some((o) => o.status === 'duplicate' || o.deliveries > 0)) deps.worker.wake();
  return outcomes;
}

/**
 * THE call of every collecting route: arrivals → report. `commit` answers after the commit
 * (APIs: the sender learns what was stored, or retries; the tag's beacon); `queue` answers
 * once the events are queued (pixels, which a page may wait for before it goes on; a refusal
 * or a failed commit is counted by the pipeline).
 */
export async function ingest(
  deps: IngestDeps,
  arrivals: readonly (Arrival | UnusableArrival)[],
  mode: 'commit' | 'queue' = 'commit',
): Promise<IngestReport> {
  const { events, errors } = admit(deps, arrivals);
  const report: IngestReport = { accepted: 0, duplicates: 0, errors, events };
  if (events.length === 0) return report;
  if (mode === 'queue') {
    commit(deps, events).catch(() => undefined);
    return report;
  }
  try {
    const outcomes = await commit(deps, events);
    report.duplicates = outcomes.filter((o) => o.status === 'duplicate').length;
    report.accepted = outcomes.length - report.duplicates;
  } catch (e) {
    if (!(e instanceof IngestRefused)) throw e;
    report.refused = e;
  }
  return report;
}

/** The arrivals of a request whose events all share one environment and one set of facts. */
export function arrivalsOf(
  env: EnvironmentConfig,
  facts: RequestFacts,
  events: readonly unknown[],
): Arrival[] {
  return events.map((event, index) => ({ index, env, event, facts }));
}
