import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { mergeFxRates } from '../../domain/fx-rates.js';
import { isCurrencyCode, NO_CURRENCY } from '../../domain/money.js';
import {
  DAY_S,
  MAX_REPORT_DAYS,
  REPORT_GROUPS,
  REPORT_VIEWS,
  type Report,
  type ReportGroup,
  type ReportQuery,
  type ReportView,
  reportCsv,
} from '../../domain/report.js';
import { runReport } from '../../reports/report-run.js';
import { skanSection } from '../../reports/skan-section.js';
import { HttpError } from '../errors.js';
import { parseTimeMs } from '../request/time-param.js';
import type { Services } from '../services.js';
import { fxRatesApi } from './fx-rates.js';

const DEFAULT_REPORT_DAYS = 30;
const MAX_COST_DAYS = 366;

const ReportParams = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  from: Type.Optional(Type.String({ description: 'ISO date/time or Unix seconds' })),
  to: Type.Optional(Type.String({ description: 'exclusive; a bare date means the whole day' })),
  group_by: Type.Optional(Type.Union(REPORT_GROUPS.map((g) => Type.Literal(g)))),
  dest_id: Type.Optional(Type.String()),
  campaign_id: Type.Optional(Type.String()),
  view: Type.Optional(Type.Union(REPORT_VIEWS.map((v) => Type.Literal(v)))),
  currency: Type.Optional(
    Type.String({ description: "ISO 4217; default: the environment's reporting_currency" }),
  ),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
});

const CostBody = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  campaign_id: Type.String({ minLength: 1, maxLength: 256 }),
  from: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'first UTC day' }),
  to: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'last day' })),
  cost: Type.Number({ minimum: 0 }),
  currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
});

const CostsQuery = Type.Object({
  env_id: Type.Optional(
    Type.String({ description: 'the environment: a 400 names env_id when it is left out' }),
  ),
});

const isDate = (t: string) => /^\d{4}-\d{2}-\d{2}$/.test(t);

/** The report query of a request; a bare `to` date includes that whole day. */
export function reportQuery(
  q: Static<typeof ReportParams>,
  env: EnvironmentConfig,
  nowMs: number,
): ReportQuery {
  const to_s = q.to
    ? parseTimeMs(q.to, 'to') / 1000 + (isDate(q.to) ? DAY_S : 0)
    : (Math.floor(nowMs / 1000 / DAY_S) + 1) * DAY_S;
  const from_s = q.from ? parseTimeMs(q.from, 'from') / 1000 : to_s - DEFAULT_REPORT_DAYS * DAY_S;
  if (to_s <= from_s)
    throw new HttpError(400, 'invalid_request', 'to must be after from', [
      { field: 'to', message: 'must be after from' },
    ]);
  if (to_s - from_s > MAX_REPORT_DAYS * DAY_S)
    throw new HttpError(400, 'invalid_request', `a report covers at most ${MAX_REPORT_DAYS} days`, [
      { field: 'from', message: `must be at most ${MAX_REPORT_DAYS} days before to` },
    ]);
  return {
    env_id: q.env_id,
    from_s,
    to_s,
    group_by: (q.group_by ?? 'day') as ReportGroup,
    view: (q.view ?? 'deduplicated') as ReportView,
    dest_id: q.dest_id,
    campaign_id: q.campaign_id,
    spend_currency: env.reporting_currency ?? NO_CURRENCY,
  };
}

/** The currency a report converts into: the one asked for, else the environment's. */
function askedCurrency(q: Static<typeof ReportParams>, env: EnvironmentConfig): string | null {
  if (q.currency === undefined) return env.reporting_currency;
  const code = q.currency.trim().toUpperCase();
  if (!isCurrencyCode(code))
    throw new HttpError(400, 'invalid_request', 'currency must be an ISO 4217 code', [
      { field: 'currency', message: 'must be an ISO 4217 currency code such as EUR' },
    ]);
  return code;
}

/**
 * `GET /api/reports`, campaign spend (`/api/campaign-costs`) and exchange rates
 * (`/api/fx-rates`), behind the admin token.
 */
export function reportsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    fxRatesApi(api, s);

    api.get<{ Querystring: Static<typeof ReportParams> }>(
      '/api/reports',
      {
        schema: {
          summary:
            'the report: conversions, attributed, revenue and spend by day, campaign, creative or destination',
          querystring: ReportParams,
        },
      },
      async (req, reply): Promise<Report | FastifyReply> => {
        const env = s.environment(req.query.env_id);
        if (!env) throw new HttpError(404, 'not_found', `no environment ${req.query.env_id}`);
        const q = reportQuery(req.query, env, s.nowMs());
        const report = await runReport(
          {
            counts: (x) => s.store.reportCounts(x),
            rates: async () => mergeFxRates(s.config.fx_rates, await s.store.listFxRates()),
          },
          q,
          askedCurrency(req.query, env),
        );
        const skan = await skanSection(
          (env_id, from, to) => s.store.postbackCounts(env_id, from, to),
          s.config.apps,
          q,
        );
        if (skan) report.skan = skan;
        if (req.query.format !== 'csv') return report;
        const name = `pixeltrail-${q.env_id}-${q.group_by}-${q.view}-${report.from.slice(0, 10)}.csv`;
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}"`)
          .send(reportCsv(report));
      },
    );

    api.put<{ Body: Static<typeof CostBody> }>(
      '/api/campaign-costs',
      { schema: { summary: "set a campaign's spend over a range of days", body: CostBody } },
      async (req) => {
        const b = req.body;
        if (!s.environment(b.env_id))
          throw new HttpError(404, 'not_found', `no environment ${b.env_id}`);
        const fromDay = Date.parse(b.from) / 1000 / DAY_S;
        const toDay = Date.parse(b.to ?? b.from) / 1000 / DAY_S;
        if (!Number.isInteger(fromDay) || !Number.isInteger(toDay) || toDay < fromDay)
          throw new HttpError(400, 'invalid_request', 'from and to must be dates, from ≤ to', [
            { field: 'to', message: 'must be a date on or after from' },
          ]);
        if (toDay - fromDay + 1 > MAX_COST_DAYS)
          throw new HttpError(400, 'invalid_request', `at most ${MAX_COST_DAYS} days at once`, [
            { field: 'to', message: `must be at most ${MAX_COST_DAYS} days after from` },
          ]);
        await s.store.setCampaignCost(
          b.env_id,
          b.campaign_id,
          fromDay,
          toDay,
          b.cost,
          b.currency ?? null,
        );
        return { env_id: b.env_id, campaign_id: b.campaign_id, days: toDay - fromDay + 1 };
      },
    );

    api.get<{ Querystring: Static<typeof CostsQuery> }>(
      '/api/campaign-costs',
      { schema: { summary: "an environment's campaign spend", querystring: CostsQuery } },
      async (req) => {
        const env = s.environment(req.query.env_id ?? '');
        if (!env)
          throw new HttpError(400, 'invalid_request', 'env_id is required', [
            { field: 'env_id', message: 'must name an environment' },
          ]);
        return { campaigns: await s.store.campaignCosts(env.id) };
      },
    );
  });
}
