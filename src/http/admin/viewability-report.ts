import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { REPORT_VIEWS } from '../../domain/report.js';
import {
  VIEWABILITY_GROUPS,
  type ViewabilityGroup,
  type ViewabilityReport,
  viewabilityReport,
} from '../../domain/viewability-report.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';
import { reportQuery } from './reports.js';

const ViewabilityParams = Type.Object({
  env_id: Type.String({ minLength: 1 }),
  from: Type.Optional(Type.String({ description: 'ISO date/time or Unix seconds' })),
  to: Type.Optional(Type.String({ description: 'exclusive; a bare date means the whole day' })),
  group_by: Type.Optional(Type.Union(VIEWABILITY_GROUPS.map((g) => Type.Literal(g)))),
  dest_id: Type.Optional(Type.String()),
  campaign_id: Type.Optional(Type.String()),
  view: Type.Optional(Type.Union(REPORT_VIEWS.map((v) => Type.Literal(v)))),
});

/** `GET /api/reports/viewability` (issue 24), behind the admin token. */
export function viewabilityReportApi(app: FastifyInstance, s: Services): void {
  app.get<{ Querystring: Static<typeof ViewabilityParams> }>(
    '/api/reports/viewability',
    {
      schema: {
        summary:
          'viewability: measurable and viewable rates, view-through conversions from viewable impressions',
        description:
          'Per campaign (default), placement, creative, destination, day or in total: served ' +
          'impressions, measurable and viewable ones (the viewability tag, MRC), ' +
          '`measurable_rate`, `viewable_rate` (viewable / measurable), ' +
          '`viewable_share_of_served`, and view-through conversions beside those credited to a ' +
          'viewable impression. Range and `view` as `/api/reports` (default: the last 30 days, ' +
          'deduplicated).',
        querystring: ViewabilityParams,
      },
    },
    async (req): Promise<ViewabilityReport> => {
      const env = s.environment(req.query.env_id);
      if (!env) throw new HttpError(404, 'not_found', `no environment ${req.query.env_id}`);
      const { group_by, ...rest } = req.query;
      const base = reportQuery(rest, env, s.nowMs());
      const q = {
        env_id: base.env_id,
        from_s: base.from_s,
        to_s: base.to_s,
        view: base.view,
        group_by: (group_by ?? 'campaign') as ViewabilityGroup,
        ...(base.dest_id ? { dest_id: base.dest_id } : {}),
        ...(base.campaign_id ? { campaign_id: base.campaign_id } : {}),
      };
      return viewabilityReport(q, await s.store.viewabilityCounts(q));
    },
  );
}
