// Reddit's Conversions API, in two versions:
// - v3, for new destinations: POST /api/v3/pixels/{pixel_id}/conversion_events with the
//   conversion access token as Bearer (existing tokens stay valid), followed from Reddit's
//   v2-to-v3 migration guide, Direct Integration, Event Testing and error pages
//   (https://ads-api.reddit.com/docs/v3/, as quoted in Segment's action-destinations
//   reddit-conversions-api/V3-API-REFERENCE.md: 1,000 events a request, events at most 7 days
//   old, `test_id` from Event Testing, which shows one event per request), RudderStack's
//   "Reddit Destination v3 Migration Guide" (v2 "deprecated but not yet sunset";
//   https://www.rudderstack.com/docs/destinations/streaming-destinations/reddit/v3-migration/)
//   and its transformer (rudder-transformer src/cdk/v2/destinations/reddit/transformV3.ts).
// - v2.0, kept for destinations configured with `account_id`: POST
//   /api/v2.0/conversions/events/{account_id}, https://ads-api.reddit.com/docs/v2/#tag/Conversions.
// Both answer from one error table (reddit-answer.ts): 400 "There were N invalid conversion
// events. None were processed.", 401 UNAUTHORIZED, 403 not authorized for the pixel or missing
// adsconversions scope, 429 rate limits incl. default user agents, 500 unavailable.
import { type Static, Type } from '@sinclair/typebox';
import type { FieldError } from '../../domain/validation-error.js';
import type { DeliveryContext, DeliveryItem, DestinationAdapter } from './adapter.js';
import { apiBase } from './platform-fields.js';
import { interpretReddit } from './reddit-answer.js';
import { REDDIT_MAX_EVENT_AGE_S, REDDIT_MAX_EVENTS, redditUser } from './reddit-fields.js';
import { redditV2Body } from './reddit-v2.js';
import { REDDIT_ACTION_SOURCES, redditV3Body, redditV3User } from './reddit-v3.js';

export { REDDIT_MAX_EVENT_AGE_S, REDDIT_MAX_EVENTS } from './reddit-fields.js';

/** Event Testing "only displays one event per request" (batches are not shown). */
const TEST_BATCH_EVENTS = 1;

const RedditSettings = Type.Object(
  {
    api_version: Type.Optional(
      Type.Union([Type.Literal('v3'), Type.Literal('v2')], {
        description:
          'v3 (pixel_id) or the deprecated v2.0 (account_id); default: v2 when only account_id is set, else v3',
      }),
    ),
    pixel_id: Type.Optional(
      Type.String({ minLength: 1, description: 'Pixel id (Events Manager), e.g. a2_abc123' }),
    ),
    account_id: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'v2.0 only: ads account (pixel) id, e.g. a2_abc123',
      }),
    ),
    access_token: Type.String({ secret: true, description: 'Conversion access token' }),
    test_id: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'v3 test_mode: the test id from Events Manager → Event Testing',
      }),
    ),
    action_source: Type.Optional(
      Type.Union(
        REDDIT_ACTION_SOURCES.map((s) => Type.Literal(s)),
        { description: 'v3: where the conversions happen (default WEBSITE)' },
      ),
    ),
  },
  { additionalProperties: false },
);
type RedditSettings = Static<typeof RedditSettings>;

/** Fields only one version reads. */
const V3_ONLY = ['pixel_id', 'test_id', 'action_source'] as const;

/**
 * Which API a destination speaks: its `api_version`, else v2 when it has an `account_id` and
 * no `pixel_id` (a destination configured before v3 keeps working unchanged), else v3.
 */
export function redditApiVersion(s: RedditSettings): 'v2' | 'v3' {
  return s.api_version ?? (s.account_id && !s.pixel_id ? 'v2' : 'v3');
}

/** Each version's id is required and the other version's fields are refused, by field. */
export function checkRedditSettings(s: RedditSettings): FieldError[] {
  if (redditApiVersion(s) === 'v2') {
    const errors: FieldError[] = V3_ONLY.filter((k) => s[k] !== undefined).map((field) => ({
      field,
      message: 'is a v3 field; api_version v2 does not read it',
    }));
    if (!s.account_id)
      errors.unshift({ field: 'account_id', message: 'is required with api_version v2' });
    return errors;
  }
  const errors: FieldError[] = [];
  if (!s.pixel_id)
    errors.push({
      field: 'pixel_id',
      message: 'is required (Conversions API v3 posts to /api/v3/pixels/{pixel_id})',
    });
  if (s.account_id !== undefined)
    errors.push({
      field: 'account_id',
      message: 'is a v2.0 field; v3 takes pixel_id (or set api_version: v2)',
    });
  return errors;
}

const headers = (token: string) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${token}`,
  // Reddit throttles default user agents ("Your user agent was automatically ratelimited").
  'user-agent': 'pixeltrail-reddit/1 (conversions API)',
});

/** Why Reddit could not match the conversion to a person, or null. */
export function redditUnmatchable(
  item: DeliveryItem,
  ctx: DeliveryContext<RedditSettings>,
): string | null {
  const s = ctx.settings;
  const v3 = redditApiVersion(s) === 'v3';
  const source = s.action_source ?? 'WEBSITE';
  const u = v3 ? redditV3User(item, source) : redditUser(item);
  const clickId = v3 && source === 'PHYSICAL_STORE' ? undefined : item.event.user.rdt_cid;
  const matches =
    clickId ||
    u.email ||
    u.phone_number ||
    u.external_id ||
    u.idfa ||
    u.aaid ||
    (u.ip_address && u.user_agent);
  return matches
    ? null
    : v3
      ? 'no match key Reddit accepts (rdt_cid, email, phone, user id, advertising id, or IP + user agent)'
      : 'no match key Reddit accepts (rdt_cid, email, user id, or IP + user agent)';
}

/**
 * Reddit through its Conversions API, v3 unless the destination is a v2 one (see
 * redditApiVersion): up to 1,000 conversions a request, `conversion_id` (our event id) for
 * Pixel dedup, `click_id` from the `rdt_cid` the tag captured, hashed identities only.
 * `test_mode` sends v2's `test_mode: true` (Reddit stores nothing), or v3's `test_id`, one
 * event a request so that Event Testing shows each.
 */
export const redditDestination: DestinationAdapter<RedditSettings> = {
  type: 'reddit',
  settingsSchema: RedditSettings,
  maxBatch: REDDIT_MAX_EVENTS,
  maxBatchFor: (dest, settings) =>
    dest.test_mode && redditApiVersion(settings) === 'v3' ? TEST_BATCH_EVENTS : REDDIT_MAX_EVENTS,
  defaultBaseUrl: 'https://ads-api.reddit.com',
  maxEventAgeS: () => REDDIT_MAX_EVENT_AGE_S,
  checkSettings: checkRedditSettings,
  refuse(item, ctx) {
    const s = ctx.settings;
    const v3 = redditApiVersion(s) === 'v3';
    if (v3 && ctx.dest.test_mode && !s.test_id)
      return 'test_mode needs test_id (Events Manager → Event Testing)';
    if (ctx.nowMs / 1000 - item.conversion.event_time > REDDIT_MAX_EVENT_AGE_S)
      return 'event too old: Reddit refuses events older than 7 days';
    return redditUnmatchable(item, ctx);
  },
  unmatchable: redditUnmatchable,
  testChannel: (s) =>
    redditApiVersion(s) === 'v2'
      ? 'Reddit test_mode (nothing stored)'
      : s.test_id
        ? `Reddit Event Testing (test_id ${s.test_id})`
        : null,
  buildRequest(items, ctx) {
    const base = apiBase(ctx.dest, 'https://ads-api.reddit.com');
    const s = ctx.settings;
    if (redditApiVersion(s) === 'v2') {
      return {
        url: `${base}/api/v2.0/conversions/events/${encodeURIComponent(s.account_id ?? '')}`,
        method: 'POST',
        headers: headers(s.access_token),
        body: redditV2Body(items, ctx.dest),
      };
    }
    return {
      url: `${base}/api/v3/pixels/${encodeURIComponent(s.pixel_id ?? '')}/conversion_events`,
      method: 'POST',
      headers: headers(s.access_token),
      body: redditV3Body(items, ctx.dest, {
        actionSource: s.action_source ?? 'WEBSITE',
        // v3 has no "store nothing" switch: test_id routes events to Event Testing, and is only
        // sent in test_mode so that a forgotten id never diverts production conversions.
        testId: ctx.dest.test_mode ? s.test_id : undefined,
      }),
    };
  },
  interpret: interpretReddit,
};
