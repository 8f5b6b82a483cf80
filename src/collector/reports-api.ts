import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  buildReport,
  DAY_S,
  MAX_REPORT_DAYS,
  REPORT_GROUPS,
  type Report,
  type ReportGroup,
  type ReportQuery,
  reportCsv,
  sumCounts,
} from '../reports/report.js';
import { parseTimeMs } from './admin-api.js';
import { HttpError } from './http-error.js';
import type { Services } from './services.js';

const DEFAULT_REPORT_DAYS = 30;
const MAX_COST_DAYS = 366;

const ReportParams = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  from: Type.Optional(Type.String({ description: 'ISO date/time or Unix seconds' })),
  to: Type.Optional(Type.String({ description: 'exclusive; a bare date means the whole day' })),
  group_by: Type.Optional(Type.Union(REPORT_GROUPS.map((g) => Type.Literal(g)))),
  dest_id: Type.Optional(Type.String()),
  campaign_id: Type.Optional(Type.String()),
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

const isDate = (t: string) => /^\d{4}-\d{2}-\d{2}$/.test(t);

/** The report query of a request; a bare `to` date includes that whole day. */
export function reportQuery(q: Static<typeof ReportParams>, nowMs: number): ReportQuery {
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
    dest_id: q.dest_id,
    campaign_id: q.campaign_id,
  };
}

/** `GET /api/reports` and campaign spend (`/api/campaign-costs`), behind the admin token. */
export function reportsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    api.get<{ Querystring: Static<typeof ReportParams> }>(
      '/api/reports',
      { schema: { querystring: ReportParams } },
      async (req, reply) => {
        if (!s.environment(req.query.env_id))
          throw new HttpError(404, 'not_found', `no environment ${req.query.env_id}`);
        const q = reportQuery(req.query, s.nowMs());
        const send = (report: Report) => {
          if (req.query.format !== 'csv') return report;
          const name = `pixeltrail-${q.env_id}-${q.group_by}-${report.from.slice(0, 10)}.csv`;
          return reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${name}"`)
            .send(reportCsv(report));
        };
        // Days split the range without overlap (a conversion has one event time), so they
        // give the total too; other groups may overlap (one purchase, two campaigns).
        const dayQuery: ReportQuery = { ...q, group_by: 'day' };
        const days = await s.store.reportCounts(dayQuery);
        const total = sumCounts(days);
        if (q.group_by === 'campaign' || q.group_by === 'creative') total.unattributed = 0;
        if (q.group_by === 'day') return send(buildReport(q, days, total));
        const report = buildReport(q, await s.store.reportCounts(q), total);
        report.days = buildReport(dayQuery, days, total).rows;
        return send(report);
      },
    );

    api.put<{ Body: Static<typeof CostBody> }>(
      '/api/campaign-costs',
      { schema: { body: CostBody } },
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

    api.get<{ Querystring: { env_id?: string } }>('/api/campaign-costs', async (req) => {
      const env = s.environment(req.query.env_id ?? '');
      if (!env)
        throw new HttpError(400, 'invalid_request', 'env_id is required', [
          { field: 'env_id', message: 'must name an environment' },
        ]);
      return { campaigns: await s.store.campaignCosts(env.id) };
    });
  });
}
