import { adsPermitted } from './consent.js';
import { isPersonTraffic, type Touch, type TrackedEvent } from './event.js';
import { namesCampaign, visitCampaignId, visitTouchId } from './traffic-source.js';

/**
 * Whether the event is a landing, the first event of a page load: what its sender says (the
 * tag marks every event), else a page view, or any event whose landing names a campaign (UTM
 * fields or an ad click id: unambiguous). Not an unmarked event whose only source is its
 * referrer: a single-page app's route change keeps `document.referrer` of the landing, so
 * the referrer of an event after the first would make the landing's visit again.
 */
export function isLanding(
  e: Pick<TrackedEvent, 'landing' | 'event_name' | 'traffic_source'>,
): boolean {
  if (e.landing !== undefined) return e.landing;
  return e.event_name === 'PageView' || (!!e.traffic_source && namesCampaign(e.traffic_source));
}

/**
 * The visit touch of a landing on the site from somewhere (issue 23): a campaign link, an ad
 * click id, another site. None for an event that is no landing (isLanding), a page after the
 * first (no source), a landing through our own click link (its click touch is the visit),
 * tests, bots and prefetches, and when the person denied ads or analytics consent: a visit
 * ties their browsing to later conversions as an ad touch does.
 */
export function visitTouchOf(e: TrackedEvent): Touch | null {
  const ts = e.traffic_source;
  if (!ts || ts.via_click_link || e.test_code || !isLanding(e)) return null;
  if (!isPersonTraffic(e.traffic)) return null;
  if (!adsPermitted(e.consent) || e.consent.analytics === false) return null;
  const u = e.user;
  const person = u.anonymous_id ?? u.cookie_id ?? u.user_id ?? u.ip;
  if (!person) return null;
  return {
    env_id: e.env_id,
    kind: 'visit',
    touch_id: visitTouchId(e.env_id, person, ts),
    dest_id: null,
    campaign_id: visitCampaignId(ts),
    creative_id: ts.content ?? null,
    placement_id: null,
    time: e.event_time,
    anonymous_id: u.anonymous_id ?? u.cookie_id ?? null,
    user_id: u.user_id ?? null,
    ip: u.ip ?? null,
    user_agent: u.user_agent ?? null,
    traffic_source: ts,
  };
}
