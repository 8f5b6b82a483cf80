import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { viewabilityOf } from '../../domain/viewability.js';
import type { ListedTouch } from '../../store/store.js';
import { parseTimeMs } from '../request/time-param.js';
import type { Services } from '../services.js';

/** Touches one request lists at most, and when it names no limit. */
export const MAX_TOUCH_ROWS = 1000;
const DEFAULT_TOUCH_ROWS = 100;

const TouchesQuery = Type.Object({
  env_id: Type.String({ minLength: 1, description: 'the environment (required)' }),
  imp_id: Type.Optional(Type.String({ minLength: 1, description: 'one impression id' })),
  click_id: Type.Optional(Type.String({ minLength: 1, description: 'one click id' })),
  kind: Type.Optional(
    Type.Union([Type.Literal('impression'), Type.Literal('click'), Type.Literal('visit')]),
  ),
  campaign_id: Type.Optional(Type.String({ minLength: 1 })),
  since: Type.Optional(Type.String({ description: 'ISO time or Unix seconds' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOUCH_ROWS })),
});

/**
 * A touch as the API shows it: every stored field, and for an impression what the
 * viewability tag measured (issue 24). `served` is true for every stored impression (a touch
 * is only stored once served); the rest stay false/null for an impression no tag measured.
 */
function touchView({ id, touch: t, view_updated_ms }: ListedTouch) {
  const v = viewabilityOf(t);
  return {
    id,
    env_id: t.env_id,
    kind: t.kind,
    touch_id: t.touch_id,
    dest_id: t.dest_id,
    campaign_id: t.campaign_id,
    creative_id: t.creative_id,
    placement_id: t.placement_id,
    time: t.time,
    time_iso: new Date(t.time * 1000).toISOString(),
    anonymous_id: t.anonymous_id,
    user_id: t.user_id,
    ip: t.ip,
    user_agent: t.user_agent,
    traffic: t.traffic ?? 'human',
    served: v !== null,
    measurable: v?.measurable ?? null,
    viewable: v?.viewable ?? null,
    time_to_view_ms: v?.time_to_view_ms ?? null,
    max_share: v?.max_share ?? null,
    video: v?.video ?? null,
    view_signal_at: view_updated_ms === null ? null : new Date(view_updated_ms).toISOString(),
    // A visit's source and medium, campaign, referrer host (issue 23); a click's UTM fields.
    traffic_source: t.traffic_source ?? null,
  };
}

/** `GET /api/touches`: the latest touches of an environment with every stored field. */
export function touchesApi(app: FastifyInstance, s: Services): void {
  app.get<{ Querystring: Static<typeof TouchesQuery> }>(
    '/api/touches',
    {
      schema: {
        summary: 'the latest touches, newest first, with viewability (served, measurable…)',
        description:
          'Every stored field of each impression, click and visit (the IP as `ip_storage` ' +
          'keeps it; a visit’s `traffic_source`), ' +
          'and for impressions `served`, `measurable`, `viewable`, `time_to_view_ms`, ' +
          `\`max_share\` (0..1) and \`video\`. Filters narrow; \`limit\` 1–${MAX_TOUCH_ROWS} ` +
          `(default ${DEFAULT_TOUCH_ROWS}).`,
        querystring: TouchesQuery,
      },
    },
    async (req) => {
      const q = req.query;
      const since = q.since === undefined ? undefined : parseTimeMs(q.since, 'since');
      const touches = await s.store.listTouches({
        env_id: q.env_id,
        imp_id: q.imp_id,
        click_id: q.click_id,
        kind: q.kind,
        campaign_id: q.campaign_id,
        since_s: since === undefined ? undefined : Math.floor(since / 1000),
        limit: q.limit ?? DEFAULT_TOUCH_ROWS,
      });
      return { touches: touches.map(touchView) };
    },
  );
}
