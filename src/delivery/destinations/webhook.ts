import { createHmac } from 'node:crypto';
import type { DestinationConfig } from '../../config/config-types.js';
import type { ConversionRecord } from '../../store/store.js';
import type { DestinationAdapter, OutgoingRequest } from '../destination.js';

/** The webhook body of DESIGN §5 (contract). */
export function webhookBody(c: ConversionRecord): Record<string, unknown> {
  const a = c.attribution;
  return {
    conversion_id: c.conversion_id,
    env_id: c.env_id,
    dest_id: c.dest_id,
    event_name: c.event_name,
    event_id: c.event_id,
    event_time: c.event_time,
    value: c.value,
    currency: c.currency,
    attribution: a
      ? {
          type: a.type,
          imp_id: a.imp_id,
          click_id: a.click_id,
          campaign_id: a.campaign_id,
          creative_id: a.creative_id,
          placement_id: a.placement_id,
          touch_time: a.touch_time,
          match_key: a.match_key,
          window: a.window,
          model: a.model,
        }
      : null,
  };
}

/** `sha256=<hex HMAC-SHA256(secret, raw body)>`, the signature header value. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The generic webhook: signed JSON with an `Idempotency-Key` that stays the same across
 * retries and replays, so a receiver can drop repeats.
 */
export const webhookDestination: DestinationAdapter = {
  type: 'webhook',
  buildRequest(c: ConversionRecord, dest: DestinationConfig): OutgoingRequest {
    const body = JSON.stringify(webhookBody(c));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'pixeltrail-webhook/1',
      'idempotency-key': `${c.conversion_id}:${c.dest_id}`,
    };
    if (dest.secret) headers['x-pixeltrail-signature'] = webhookSignature(dest.secret, body);
    return { url: dest.url, method: 'POST', headers, body };
  },
};
