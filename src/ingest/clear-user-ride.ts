import type { DestinationConfig } from '../domain/config-types.js';
import { type ClearUserInfo, pickClearUser } from '../domain/customer-info.js';
import type { PlatformTraits } from './platform-traits.js';

/**
 * What of the event's clear name and address values rides on this destination's outbox row,
 * as the row's `clear_user` column holds it: only the fields its adapter declares it needs
 * (Google Ads, LinkedIn), nothing for the platforms that take hashes only (Meta, TikTok…).
 * Like the raw IP, it is never stored with the event and is dropped once the row is done.
 */
export function clearUserFor(
  dest: DestinationConfig,
  clear: ClearUserInfo | undefined,
  platforms: PlatformTraits | undefined,
): string | undefined {
  const fields = platforms?.clearUser?.(dest) ?? [];
  const picked = fields.length > 0 ? pickClearUser(clear, fields) : null;
  return picked ? JSON.stringify(picked) : undefined;
}
