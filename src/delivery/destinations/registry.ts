import type { DestinationAdapter } from '../destination.js';
import { ga4Destination } from './ga4.js';
import { googleAdsDestination } from './google-ads.js';
import { postbackDestination } from './postback.js';
import { webhookDestination } from './webhook.js';

/** Every destination type by name. */
export const ADAPTERS: Record<string, DestinationAdapter<any>> = {
  webhook: webhookDestination,
  ga4: ga4Destination,
  google_ads: googleAdsDestination,
  postback: postbackDestination,
};

/** The adapter of a destination type, or undefined for an unknown type. */
export function adapterFor(type: string): DestinationAdapter<any> | undefined {
  return ADAPTERS[type];
}
