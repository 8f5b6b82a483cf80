import { adsPermitted } from './consent.js';
import type { Touch, TrackedEvent } from './event.js';
import { visitCampaignId, visitTouchId } from './traffic-source.js';

/**
 * The visit touch of an event that landed on the site from somewhere (issue 23): a campaign
 * link, an ad click id, another site. None for a page after the first (no source), for a
 * landing through our own click link (its click touch is the visit), for tests, bots and
 * prefetches, and when the person denied ads or analytics consent: a visit ties their
 * browsing to later conversions as an ad touch does.
 */
export function visitTouchOf(e: TrackedEvent): Touch | null {
  const ts = e.traffic_source;
  if (!ts || ts.via_click_link || e.test_code) return null;
  if (e.traffic && e.traffic !== 'human') return null;
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
