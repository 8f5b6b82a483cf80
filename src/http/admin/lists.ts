import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { decideRedirect, signClick } from '../../domain/click-link.js';
import { parseDurationMs } from '../../domain/duration.js';
import type { ListFilter } from '../../store/store.js';
import { HttpError } from '../errors.js';
import { parseTimeMs } from '../request/time-param.js';
import type { Services } from '../services.js';
import { attributionReportsApi } from './attribution-reports.js';
import { audiencesApi } from './audiences.js';
import { destinationView } from './destinations.js';
import { holdoutsApi } from './holdouts.js';

const MAX_LIST_ROWS = 1000;
const DEFAULT_LIST_ROWS = 100;

/** A list's filters; `status` takes only what the list's rows can be (a typo is a 400). */
const listQuery = (statuses: string[]) =>
  Type.Object({
    env_id: Type.Optional(Type.String()),
    dest_id: Type.Optional(Type.String()),
    status: Type.Optional(Type.Union(statuses.map((v) => Type.Literal(v)))),
    since: Type.Optional(Type.String({ description: 'ISO time or Unix seconds' })),
    until: Type.Optional(Type.String()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_ROWS })),
  });
const ConversionsQuery = listQuery(['attributed', 'unattributed']);
const DeliveriesQuery = listQuery(['pending', 'delivered', 'failed', 'dead']);
type ListQuery = Static<typeof ConversionsQuery> | Static<typeof DeliveriesQuery>;
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const DestParams = Type.Object({ env_id: Type.String(), dest_id: Type.String() });
const ReplayBody = Type.Object({
  env_id: Type.String(),
  dest_id: Type.String(),
  from: Type.String({ description: 'ISO time or Unix seconds' }),
  to: Type.String(),
});
const StatsQuery = Type.Object({
  env_id: Type.Optional(Type.String({ description: 'one environment; all when left out' })),
});
const SignQuery = Type.Object(
  { env_id: Type.String(), url: Type.String() },
  { additionalProperties: Type.String() },
);

/** A parsed time, or the 400 naming its field, so that every bad field is reported. */
function timeOrError(parse: () => number): number | HttpError {
  try {
    return parse();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
}

function filterFrom(q: ListQuery): ListFilter {
  return {
    env_id: q.env_id,
    dest_id: q.dest_id,
    status: q.status,
    since_ms: q.since ? parseTimeMs(q.since, 'since') : undefined,
    until_ms: q.until ? parseTimeMs(q.until, 'until') : undefined,
    limit: q.limit ?? DEFAULT_LIST_ROWS,
  };
}

/** `/api/*`, the admin API behind the admin token (DESIGN §5; checked by admin-auth.ts). */
export function adminApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    attributionReportsApi(api, s);
    audiencesApi(api, s);
    holdoutsApi(api, s);

    api.get(
      '/api/environments',
      { schema: { summary: 'environments and their destinations (secrets masked, paused state)' } },
      async () => {
        const paused = await s.store.pausedDestinations();
        return {
          environments: s.config.environments.map((e) => ({
            id: e.id,
            name: e.name,
            allowed_origins: e.allowed_origins,
            click_url_hosts: e.click_url_hosts,
            destinations: e.destinations.map((d) => {
              const p = paused.find((x) => x.env_id === e.id && x.dest_id === d.id);
              return destinationView(d, {
                env_id: e.id,
                source: s.destinations.sourceOf(e.id, d.id) ?? 'file',
                paused: !!p,
                paused_reason: p?.reason ?? null,
              });
            }),
          })),
        };
      },
    );

    api.get<{ Querystring: Static<typeof ConversionsQuery> }>(
      '/api/conversions',
      {
        schema: {
          summary: 'conversions with their attribution, or the reason they have none',
          querystring: ConversionsQuery,
        },
      },
      async (req) => ({
        conversions: await s.store.listConversions(filterFrom(req.query)),
      }),
    );

    api.get<{ Querystring: Static<typeof DeliveriesQuery> }>(
      '/api/deliveries',
      {
        schema: {
          summary: 'outbox rows: pending, delivered, failed, dead',
          querystring: DeliveriesQuery,
        },
      },
      async (req) => ({
        deliveries: await s.store.listDeliveries(filterFrom(req.query)),
      }),
    );

    api.get<{ Params: Static<typeof IdParams> }>(
      '/api/deliveries/:id',
      { schema: { summary: 'one delivery with its attempt log', params: IdParams } },
      async (req) => {
        const d = await s.store.getDelivery(req.params.id);
        if (!d) throw new HttpError(404, 'not_found', `no delivery ${req.params.id}`);
        return d;
      },
    );

    api.post<{ Params: Static<typeof IdParams> }>(
      '/api/deliveries/:id/retry',
      {
        schema: {
          summary: 're-queue a dead or failed delivery (409 if it is neither)',
          params: IdParams,
        },
      },
      async (req) => {
        const d = await s.store.getDelivery(req.params.id);
        if (!d) throw new HttpError(404, 'not_found', `no delivery ${req.params.id}`);
        if (!(await s.store.retryDelivery(req.params.id, s.nowMs()))) {
          throw new HttpError(
            409,
            'not_retryable',
            `delivery ${req.params.id} is ${d.outbox.status}; only dead or failed deliveries are retried`,
          );
        }
        s.worker.wake();
        return { id: req.params.id, status: 'pending' };
      },
    );

    api.post<{ Params: Static<typeof DestParams> }>(
      '/api/destinations/:env_id/:dest_id/resume',
      {
        schema: {
          summary: 'resume a destination paused by hand or after a 401/403',
          params: DestParams,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.params;
        if (!findDestination(s.environment(env_id), dest_id)) {
          throw new HttpError(404, 'not_found', `no destination ${env_id}/${dest_id}`);
        }
        await s.store.setDestinationPaused(env_id, dest_id, false, null, s.nowMs());
        s.worker.wake();
        return { env_id, dest_id, paused: false };
      },
    );

    api.post<{ Body: Static<typeof ReplayBody> }>(
      '/api/replay',
      {
        schema: {
          summary: 're-send the attributed conversions of a time range to one destination',
          body: ReplayBody,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.body;
        if (!findDestination(s.environment(env_id), dest_id)) {
          throw new HttpError(404, 'not_found', `no destination ${env_id}/${dest_id}`);
        }
        const range = [
          () => parseTimeMs(req.body.from, 'from'),
          () => parseTimeMs(req.body.to, 'to'),
        ].map(timeOrError);
        const errors = range.flatMap((r) => (typeof r === 'number' ? [] : (r.fields ?? [])));
        const [fromMs, toMs] = range as number[];
        if (errors.length === 0 && (fromMs as number) > (toMs as number))
          errors.push({ field: 'to', message: 'must not be before from' });
        if (errors.length > 0)
          throw new HttpError(400, 'invalid_request', 'the time range is not usable', errors);
        const queued = await s.store.requeueRange(
          env_id,
          dest_id,
          fromMs as number,
          toMs as number,
          s.nowMs(),
        );
        s.worker.wake();
        return { queued };
      },
    );

    api.get<{ Querystring: Static<typeof StatsQuery> }>(
      '/api/stats',
      {
        schema: {
          summary:
            'counts: ad touches (impressions and clicks), visits, events, duplicates, conversions, attributed, outbox states, bot and prefetch hits',
          querystring: StatsQuery,
        },
      },
      async (req) => s.store.counts(req.query.env_id),
    );

    api.get<{ Querystring: Static<typeof SignQuery> }>(
      '/api/click-links',
      {
        schema: {
          summary: 'a signed /c link for any landing host (`ttl=7d` makes it expire)',
          querystring: SignQuery,
        },
      },
      async (req) => {
        const env = s.environment(req.query.env_id);
        if (!env) throw new HttpError(404, 'not_found', `no environment ${req.query.env_id}`);
        // A link `/c` would refuse whatever its signature is no link to hand out.
        const target = decideRedirect(req.query.url, true, []);
        if (!target.ok)
          throw new HttpError(400, 'invalid_request', 'url must be an absolute http(s) URL', [
            { field: 'url', message: 'must be an absolute http(s) URL without credentials' },
          ]);
        const params: Record<string, string> = { ...req.query };
        delete params.sig;
        // `ttl=7d` makes an expiring link: `exp` is signed with the rest.
        if (params.ttl !== undefined) {
          const ttlMs = parseDurationMs(params.ttl);
          if (ttlMs === null)
            throw new HttpError(400, 'invalid_request', 'ttl must be a duration such as 7d', [
              { field: 'ttl', message: 'is not a duration' },
            ]);
          params.exp = String(Math.floor((s.nowMs() + ttlMs) / 1000));
          delete params.ttl;
        }
        const sig = signClick(env.click_secret, params);
        const qs = new URLSearchParams({ ...params, sig }).toString();
        return { url: `${s.config.public_url}/c?${qs}`, sig };
      },
    );
  });
}
