// Reddit Conversions API v2.0, followed from https://ads-api.reddit.com/docs/v2/#tag/Conversions
// (POST /api/v2.0/conversions/events/{account_id}, Bearer conversion token, `test_mode`,
// `events[]` with event_at, event_type.tracking_type, click_id, event_metadata, user),
// https://business.reddithelp.com/s/article/about-event-metadata (which event types take
// value and item_count) and Reddit's CAPI error table (400 "There were N invalid conversion
// events. None were processed." with `invalid_events`, 401 UNAUTHORIZED, 403 not authorized
// for the pixel, 429 rate limits incl. default user agents, 500 unavailable; 1,000 events a
// request; events at most 7 days old).
import { type Static, Type } from '@sinclair/typebox';
import type { DestinationAdapter } from '../destination.js';
import { apiBase } from '../platform-fields.js';
import { interpretReddit } from './reddit-answer.js';
import { REDDIT_MAX_EVENT_AGE_S, REDDIT_MAX_EVENTS, redditUser } from './reddit-fields.js';
import { redditV2Body } from './reddit-v2.js';

export { REDDIT_MAX_EVENT_AGE_S, REDDIT_MAX_EVENTS } from './reddit-fields.js';

const RedditSettings = Type.Object(
  {
    account_id: Type.String({
      minLength: 1,
      description: 'Ads account (pixel) id, e.g. a2_abc123',
    }),
    access_token: Type.String({ secret: true, description: 'Conversion access token' }),
  },
  { additionalProperties: false },
);
type RedditSettings = Static<typeof RedditSettings>;

/**
 * Reddit through the Conversions API v2.0: up to 1,000 conversions a request, `conversion_id`
 * (our event id) for Pixel dedup, `click_id` from the `rdt_cid` the tag captured, hashed
 * identities only. `test_mode` sends Reddit's `test_mode: true`, which stores nothing.
 */
export const redditDestination: DestinationAdapter<RedditSettings> = {
  type: 'reddit',
  settingsSchema: RedditSettings,
  maxBatch: REDDIT_MAX_EVENTS,
  defaultBaseUrl: 'https://ads-api.reddit.com',
  refuse(item, ctx) {
    if (ctx.nowMs / 1000 - item.conversion.event_time > REDDIT_MAX_EVENT_AGE_S)
      return 'event too old: Reddit refuses events older than 7 days';
    const u = redditUser(item);
    return item.event.user.rdt_cid || u.email || u.external_id || (u.ip_address && u.user_agent)
      ? null
      : 'no match key Reddit accepts (rdt_cid, email, user id, or IP + user agent)';
  },
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, 'https://ads-api.reddit.com');
    return {
      url: `${base}/api/v2.0/conversions/events/${encodeURIComponent(ctx.settings.account_id)}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ctx.settings.access_token}`,
        // Reddit throttles default user agents ("Your user agent was automatically ratelimited").
        'user-agent': 'pixeltrail-reddit/1 (conversions API)',
      },
      body: redditV2Body(items, ctx.dest),
    };
  },
  interpret: interpretReddit,
};
