import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { costsFromCsv, costsFromJson, MAX_COST_ROWS } from '../../domain/costs.js';
import { DAY_S } from '../../domain/report.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

/**
 * A cost import of MAX_COST_ROWS lines of 128 bytes on average (an ad platform's export line
 * with its channel, source and medium is 60-110), or as many JSON rows: what the row cap
 * needs, no more (12.8 MB).
 */
export const MAX_COST_BODY_BYTES = MAX_COST_ROWS * 128;
const DATE = '^\\d{4}-\\d{2}-\\d{2}$';

const CostQuery = Type.Object({
  env_id: Type.String({ minLength: 1 }),
});
const ListQuery = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  from: Type.Optional(Type.String({ pattern: DATE, description: 'first UTC day' })),
  to: Type.Optional(Type.String({ pattern: DATE, description: 'last UTC day (inclusive)' })),
});

const dayOf = (date: string) => Date.parse(`${date}T00:00:00Z`) / 1000 / DAY_S;

/**
 * `/api/costs` (issue 23 §2): daily cost per campaign (and channel) imported as JSON
 * `{costs: [...]}` or a CSV file (`content-type: text/csv`; `date,campaign_id,cost,currency`
 * and optional `channel,source,medium,impressions,clicks`). Every good row is saved, each bad
 * one named by index (JSON) or line (CSV) and field; 400 when none is good. An import replaces
 * what each campaign it names cost on each day it names, every channel. GET lists what is
 * stored.
 */
export function costsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    api.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );

    api.post<{ Querystring: Static<typeof CostQuery> }>(
      '/api/costs',
      {
        schema: {
          summary:
            'import daily costs per campaign (and channel), as JSON or a CSV file; each bad row is named',
          description:
            `JSON \`{"costs":[{date, campaign_id, cost, currency, channel?, source?, medium?, impressions?, clicks?}]}\` ` +
            `(at most ${MAX_COST_ROWS}) or a CSV with a \`date,campaign_id,cost,currency\` header. ` +
            'Answers `{rows, saved, errors}`; 400 when no row is good.',
          querystring: CostQuery,
        },
        bodyLimit: MAX_COST_BODY_BYTES,
      },
      async (req) => {
        const env = s.environment(req.query.env_id);
        if (!env) throw new HttpError(404, 'unknown_env', `no environment ${req.query.env_id}`);
        const parsed =
          typeof req.body === 'string' ? costsFromCsv(req.body) : costsFromJson(req.body);
        if ('unusable' in parsed)
          throw new HttpError(400, 'invalid_request', 'the import cannot be read', parsed.unusable);
        if (parsed.rows.length === 0 && parsed.errors.length > 0)
          throw new HttpError(400, 'invalid_request', 'no cost row could be saved', parsed.errors);
        const saved = await s.store.putCosts(env.id, parsed.rows, s.nowMs());
        return { env_id: env.id, saved, errors: parsed.errors };
      },
    );

    api.get<{ Querystring: Static<typeof ListQuery> }>(
      '/api/costs',
      { schema: { summary: 'the daily costs stored for an environment', querystring: ListQuery } },
      async (req) => {
        const env = s.environment(req.query.env_id);
        if (!env) throw new HttpError(404, 'unknown_env', `no environment ${req.query.env_id}`);
        const today = Math.floor(s.nowMs() / 1000 / DAY_S);
        const from = req.query.from ? dayOf(req.query.from) : today - 30;
        const to = req.query.to ? dayOf(req.query.to) + 1 : today + 1;
        const lines = await s.store.listCosts(env.id, from, to);
        return {
          env_id: env.id,
          costs: lines.map((c) => ({
            date: new Date(c.day * DAY_S * 1000).toISOString().slice(0, 10),
            campaign_id: c.campaign_id,
            channel: c.channel || null,
            cost: c.cost,
            currency: c.currency ?? env.reporting_currency,
            source: c.source,
            medium: c.medium,
            impressions: c.impressions,
            clicks: c.clicks,
          })),
        };
      },
    );
  });
}
