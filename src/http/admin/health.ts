import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  gradeDestination,
  gradeFraud,
  gradeMacros,
  gradeSource,
  matchQuality,
  worseOf,
} from '../../domain/health.js';
import { FRAUD_CHECKS } from '../../domain/install-fraud.js';
import { destinationMatchQuality } from '../../domain/match-quality.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';
import { macroHealth } from './macro-health.js';

const WINDOW_MS = 24 * 3_600_000;
const MINUTES_IN_WINDOW = WINDOW_MS / 60_000;

const HealthQuery = Type.Object({
  env_id: Type.Optional(
    Type.String({ description: 'the environment: a 400 names env_id when it is left out' }),
  ),
});

const rate = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);

/** Hits and invalid hits per pixel endpoint since the process started (Prometheus counters). */
async function invalidHits(s: Services) {
  const hits = (await s.metrics.hits.get()).values;
  const bad = (await s.metrics.invalidHits.get()).values;
  return hits.map((h) => {
    const endpoint = String(h.labels.endpoint);
    const reasons = bad
      .filter((b) => b.labels.endpoint === endpoint)
      .map((b) => ({ reason: String(b.labels.reason), count: b.value }));
    const invalid = reasons.reduce((n, r) => n + r.count, 0);
    return { endpoint, hits: h.value, invalid_rate: rate(invalid, h.value), reasons };
  });
}

/**
 * A destination's conversions flagged by install fraud checks in the window: how many rows
 * carry any flag, and how many each check flagged (a row may carry several).
 */
function installFraud(rows: ReadonlyArray<{ checks: string[]; n: number }>) {
  const by: Record<string, number> = Object.fromEntries(FRAUD_CHECKS.map((k) => [k, 0]));
  let flagged = 0;
  for (const r of rows) {
    flagged += r.n;
    for (const k of r.checks) by[k] = (by[k] ?? 0) + r.n;
  }
  return { flagged, ...by };
}

/**
 * `GET /api/health?env_id=`: per source and destination, the numbers of the last 24 h and a
 * red/amber/green light with its reason.
 */
export function healthApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    api.get<{ Querystring: Static<typeof HealthQuery> }>(
      '/api/health',
      {
        schema: {
          summary:
            "per source and destination: the last 24 h's numbers and a red/amber/green light with its reason",
          querystring: HealthQuery,
        },
      },
      async (req) => {
        const env = s.environment(req.query.env_id ?? '');
        if (!env)
          throw new HttpError(400, 'invalid_request', 'env_id must name an environment', [
            { field: 'env_id', message: 'must name an environment' },
          ]);
        const now = s.nowMs();
        const c = await s.store.healthCounts(env.id, now - WINDOW_MS);
        const paused = await s.store.pausedDestinations();
        const macros = await macroHealth(s, env.id);
        const sources = c.sources.map((x) => {
          const quality = matchQuality(x.sample);
          const dedup = rate(x.duplicates, x.events + x.duplicates) ?? 0;
          return {
            source: x.source,
            last_seen_ms: x.last_ms,
            events: x.events,
            events_per_min: Math.round((x.events / MINUTES_IN_WINDOW) * 100) / 100,
            dedup_rate: dedup,
            match_quality: quality,
            ...gradeSource(x.last_ms, now, dedup, quality.score),
          };
        });
        // The sources' samples together: what the destinations' match quality is read from.
        const sample = c.sources.flatMap((x) => x.sample);
        const destinations = env.destinations.map((d) => {
          const rows = c.outbox.filter((o) => o.dest_id === d.id);
          const n = (st: string) => rows.find((o) => o.status === st)?.n ?? 0;
          const done = n('delivered');
          const finished = done + n('failed') + n('dead');
          const pending = rows.find((o) => o.status === 'pending');
          const conv = c.conversions.filter((x) => x.dest_id === d.id);
          const all = conv.reduce((k, x) => k + x.n, 0);
          const attributed = conv.filter((x) => x.attributed).reduce((k, x) => k + x.n, 0);
          const success = rate(done, finished);
          const oldestMin = pending?.oldest_ms ? (now - pending.oldest_ms) / 60_000 : null;
          const p = paused.find((x) => x.env_id === env.id && x.dest_id === d.id);
          const m = macros.find((x) => x.dest_id === d.id);
          const fraud = installFraud(c.fraud.filter((f) => f.dest_id === d.id));
          return {
            dest_id: d.id,
            type: d.type,
            conversions: all,
            match_rate: rate(attributed, all),
            match_quality: destinationMatchQuality(d.type, d.events, sample),
            delivered: done,
            failed: n('failed'),
            dead: n('dead'),
            success_rate: success,
            backlog: pending?.n ?? 0,
            oldest_pending_min: oldestMin === null ? null : Math.round(oldestMin),
            pixel_hits: m?.hits ?? 0,
            unexpanded_macro_share: m?.share ?? null,
            unexpanded_macro_params: m?.params ?? {},
            install_fraud: fraud,
            ...worseOf(
              worseOf(
                gradeDestination(
                  p ? (p.reason ?? 'paused') : null,
                  success,
                  pending?.n ?? 0,
                  oldestMin,
                ),
                gradeMacros(m?.share ?? null, Object.keys(m?.params ?? {})),
              ),
              gradeFraud(fraud.flagged, all),
            ),
          };
        });
        return {
          env_id: env.id,
          window: '24h',
          touches: { last_seen_ms: c.touches.last_ms, count: c.touches.count },
          visits: { last_seen_ms: c.visits.last_ms, count: c.visits.count },
          sources,
          destinations,
          pixels: await invalidHits(s),
          unexpanded_macros: macros,
        };
      },
    );
  });
}
