import type { DestinationAdapter } from './adapter.js';
import { ga4Destination } from './ga4.js';
import { googleAdsDestination } from './google-ads.js';
import { linkedinDestination } from './linkedin.js';
import { metaDestination } from './meta.js';
import { microsoftAdsDestination } from './microsoft-ads.js';
import { pinterestDestination } from './pinterest.js';
import { postbackDestination } from './postback.js';
import { redditDestination } from './reddit.js';
import { snapchatDestination } from './snapchat.js';
import { tiktokDestination } from './tiktok.js';
import { tradeDeskDestination } from './tradedesk.js';
import { webhookDestination } from './webhook.js';
import { xAdsDestination } from './x-ads.js';

/** Every destination type by name. */
export const ADAPTERS: Record<string, DestinationAdapter<any>> = {
  webhook: webhookDestination,
  ga4: ga4Destination,
  google_ads: googleAdsDestination,
  postback: postbackDestination,
  meta: metaDestination,
  snapchat: snapchatDestination,
  reddit: redditDestination,
  tiktok: tiktokDestination,
  pinterest: pinterestDestination,
  linkedin: linkedinDestination,
  tradedesk: tradeDeskDestination,
  microsoft_ads: microsoftAdsDestination,
  x_ads: xAdsDestination,
};

/** The adapter of a destination type, or undefined for an unknown type. */
export function adapterFor(type: string): DestinationAdapter<any> | undefined {
  return ADAPTERS[type];
}
