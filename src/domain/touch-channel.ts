import type { ChannelClassifier, ChannelFacts } from './channel-rules.js';
import type { TouchKind } from './event.js';
import type { SourceCategory } from './source-categories.js';
import { type TrafficSource, visitCampaignId, withinSite } from './traffic-source.js';

/** The campaign of touches that name none, in reports. */
export const NO_CAMPAIGN_KEY = '(none)';

/**
 * The source an ad touch of a destination stands for, by the destination's type: the
 * platform's name as GA4 would read it from auto-tagging, and its kind of site. Ad servers
 * of no such kind (a DSP, a webhook, a postback) buy display.
 */
const DESTINATION_SOURCES: Readonly<
  Record<string, { source: string; category: SourceCategory | null }>
> = {
  meta: { source: 'facebook', category: 'social' },
  tiktok: { source: 'tiktok', category: 'social' },
  snapchat: { source: 'snapchat', category: 'social' },
  pinterest: { source: 'pinterest', category: 'social' },
  reddit: { source: 'reddit', category: 'social' },
  linkedin: { source: 'linkedin', category: 'social' },
  x_ads: { source: 'twitter', category: 'social' },
  google_ads: { source: 'google', category: 'search' },
  microsoft_ads: { source: 'bing', category: 'search' },
  tradedesk: { source: 'thetradedesk', category: null },
};

/** One touch of a path, as the channel report reads it. */
export interface ReportTouch {
  kind: TouchKind;
  campaign_id: string | null;
  dest_id?: string | null;
  traffic_source?: TrafficSource;
}

/**
 * What the channel rules read of a touch. A visit (or a click whose landing URL carried UTM
 * fields) has its own source and medium; an ad touch takes its destination's: `cpc` for a
 * click and `cpm` for an impression of a search or social platform, `display` for the rest.
 */
export function channelFacts(t: ReportTouch, destType: string | undefined): ChannelFacts {
  const ts = t.traffic_source;
  const touch = t.kind;
  if (ts)
    return {
      touch,
      source: ts.source,
      medium: ts.medium,
      campaign: ts.campaign ?? t.campaign_id,
      source_category: ts.source_category ?? null,
      click_id: ts.click_id_param ?? null,
    };
  const dest = destType ? DESTINATION_SOURCES[destType] : undefined;
  const medium = dest?.category ? (touch === 'click' ? 'cpc' : 'cpm') : 'display';
  return {
    touch,
    source: dest?.source ?? t.dest_id ?? '(not set)',
    medium,
    campaign: t.campaign_id,
    source_category: dest?.category ?? null,
    click_id: null,
  };
}

/** How a report may group touches (issue 23 §2). */
export type TouchDimension = 'channel' | 'source_medium' | 'campaign';
export const TOUCH_DIMENSIONS: readonly TouchDimension[] = ['channel', 'source_medium', 'campaign'];

/** The row of a touch under a dimension. */
export function touchKey(
  dim: TouchDimension,
  t: ReportTouch,
  destType: string | undefined,
  rules: ChannelClassifier,
): string {
  if (dim === 'campaign') {
    const id = t.kind === 'visit' && t.traffic_source ? visitCampaignId(t.traffic_source) : null;
    return id ?? t.campaign_id ?? NO_CAMPAIGN_KEY;
  }
  const f = channelFacts(t, destType);
  return dim === 'channel' ? rules.channelOf(f) : `${f.source} / ${f.medium}`;
}

/**
 * Whether a visit is known only by a referrer the environment ignores (a payment page sending
 * the buyer back): such a visit is not a source and is left off the path.
 */
export function ignoredVisit(t: ReportTouch, ignored: readonly string[]): boolean {
  const ts = t.traffic_source;
  if (t.kind !== 'visit' || ts?.by !== 'referrer' || !ts.referrer_host) return false;
  const host = ts.referrer_host;
  return ignored.some((h) => withinSite(host, h));
}
