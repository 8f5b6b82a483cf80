import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ATTRIBUTION_MODELS, type AttributionModel } from '../../domain/attribution-models.js';
import { parseDurationMs } from '../../domain/duration.js';
import { FxTable, mergeFxRates } from '../../domain/fx-rates.js';
import { isCurrencyCode, NO_CURRENCY } from '../../domain/money.js';
import { TOUCH_DIMENSIONS, type TouchDimension } from '../../domain/touch-channel.js';
import { abortable } from '../../pacing/pausing.js';
import { turnGate } from '../../pacing/turn-gate.js';
import { attributionReport } from '../../reports/attribution-report.js';
import { channelSettingsOf } from '../../reports/channel-settings.js';
import { nonConvertingPaths } from '../../reports/journeys-run.js';
import { reportDimension } from '../../reports/report-dimension.js';
import { HttpError } from '../errors.js';
import { parseTimeMs } from '../request/time-param.js';
import type { Services } from '../services.js';

const AttributionQuery = Type.Object({
  env_id: Type.String(),
  model: Type.Optional(Type.String({ description: 'one of the models, or all' })),
  from: Type.String({ description: 'ISO time or Unix seconds, inclusive' }),
  to: Type.String({ description: 'ISO time or Unix seconds, exclusive' }),
  by: Type.Optional(
    Type.String({ description: 'campaign (default), channel or source_medium: the rows' }),
  ),
  half_life: Type.Optional(Type.String({ description: 'time_decay half-life, e.g. 7d' })),
  currency: Type.Optional(
    Type.String({ description: 'convert revenue into it (default: reporting_currency)' }),
  ),
  journeys: Type.Optional(
    Type.Union([Type.Literal('all'), Type.Literal('converting')], {
      description: 'data_driven: all journeys (default) or the converting paths only',
    }),
  ),
});
const PathParams = Type.Object({ conversion_id: Type.String() });
const PathQuery = Type.Object({ env_id: Type.String() });

/** `/api/reports/attribution` and the per-conversion path (issue 9), behind the admin token. */
export function attributionReportsApi(api: FastifyInstance, s: Services): void {
  api.get<{ Querystring: Static<typeof AttributionQuery> }>(
    '/api/reports/attribution',
    {
      schema: {
        summary:
          'multi-touch attribution report: conversions, revenue, cost, CPA and ROAS per campaign, channel or source / medium, under one model or all side by side',
        querystring: AttributionQuery,
      },
    },
    async (req, reply) => {
      const q = req.query;
      const env = s.environment(q.env_id);
      if (!env) throw new HttpError(404, 'not_found', `no environment ${q.env_id}`);
      const model = q.model ?? 'last_touch';
      const errors: Array<{ field: string; message: string }> = [];
      if (model !== 'all' && !ATTRIBUTION_MODELS.includes(model as AttributionModel))
        errors.push({
          field: 'model',
          message: `must be all or one of ${ATTRIBUTION_MODELS.join(', ')}`,
        });
      const by = (q.by ?? 'campaign') as TouchDimension;
      if (!TOUCH_DIMENSIONS.includes(by))
        errors.push({ field: 'by', message: `must be one of ${TOUCH_DIMENSIONS.join(', ')}` });
      const halfLifeMs = q.half_life === undefined ? undefined : parseDurationMs(q.half_life);
      if (halfLifeMs === null || halfLifeMs === 0)
        errors.push({ field: 'half_life', message: 'must be a duration like 7d' });
      const currency = q.currency?.trim().toUpperCase() ?? env.reporting_currency;
      if (currency !== null && !isCurrencyCode(currency))
        errors.push({
          field: 'currency',
          message: 'must be an ISO 4217 currency code such as EUR',
        });
      if (errors.length > 0)
        throw new HttpError(
          400,
          'invalid_request',
          errors.map((e) => `${e.field} ${e.message}`).join('; '),
          errors,
        );
      const from = Math.floor(parseTimeMs(q.from, 'from') / 1000);
      const to = Math.floor(parseTimeMs(q.to, 'to') / 1000);
      const paths = await s.store.listConversionPaths(q.env_id, from, to);
      // The report's work runs on the event loop: it pauses every 10 ms for pixels and events,
      // and stops at a pause once its client has gone.
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished)
          gone.abort(new HttpError(499, 'client_closed', 'the client closed the request'));
      });
      const pause = abortable(turnGate(), gone.signal);
      const { settings } = await channelSettingsOf(s.store, env);
      // Costs of every UTC day the range touches.
      const costs = await s.store.listCosts(
        q.env_id,
        Math.floor(from / 86_400),
        Math.ceil(to / 86_400),
      );
      // Before the journeys: their touches are keyed by its rows as they are read.
      const dimension = await reportDimension(by, env, settings, paths, pause);
      // The data-driven model also sees who did not convert (issue 23 §2), unless asked not to.
      const dda = (model === 'data_driven' || model === 'all') && q.journeys !== 'converting';
      const read = dda
        ? await nonConvertingPaths(s.store, q.env_id, paths, from, to, dimension.channelOf)
        : null;
      const opts = {
        half_life_s: halfLifeMs ? halfLifeMs / 1000 : undefined,
        dimension,
        costs,
        spend_currency: env.reporting_currency ?? NO_CURRENCY,
        non_converting: read?.journeys,
        pause,
      };
      const base = { env_id: q.env_id, from, to, conversions: paths.length };
      const fx = new FxTable(mergeFxRates(s.config.fx_rates, await s.store.listFxRates()));
      return {
        model,
        ...base,
        ...(await attributionReport(paths, model as AttributionModel | 'all', fx, currency, opts)),
        ...(read && {
          journeys: {
            converting: paths.length,
            non_converting: read.count,
            touches: read.touches,
            sample: read.sample,
          },
        }),
      };
    },
  );

  api.get<{ Params: Static<typeof PathParams>; Querystring: Static<typeof PathQuery> }>(
    '/api/conversions/:conversion_id/path',
    {
      schema: {
        summary: 'the touches that led to one conversion, with the credit each model gives them',
        params: PathParams,
        querystring: PathQuery,
      },
    },
    async (req) => {
      const p = await s.store.getConversionPath(req.query.env_id, req.params.conversion_id);
      if (!p)
        throw new HttpError(404, 'not_found', `no path for conversion ${req.params.conversion_id}`);
      return p;
    },
  );
}
