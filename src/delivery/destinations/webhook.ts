import { createHmac } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { ConversionRecord } from '../../store/store.js';
import type { DestinationAdapter } from './adapter.js';

const WebhookSettings = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'Where conversions are POSTed' }),
    secret: Type.Optional(
      Type.String({ secret: true, description: 'HMAC key of X-Pixeltrail-Signature' }),
    ),
  },
  { additionalProperties: false },
);
type WebhookSettings = Static<typeof WebhookSettings>;

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
          match_type: a.match_type,
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
 * The generic webhook: one signed JSON conversion per request, with an `Idempotency-Key`
 * that stays the same across retries and replays, so a receiver can drop repeats.
 */
export const webhookDestination: DestinationAdapter<WebhookSettings> = {
  type: 'webhook',
  settingsSchema: WebhookSettings,
  maxBatch: 1,
  defaultBaseUrl: null,
  buildRequest([item], { settings }) {
    const c = item.conversion;
    const body = JSON.stringify(webhookBody(c));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'pixeltrail-webhook/1',
      'idempotency-key': `${c.conversion_id}:${c.dest_id}`,
    };
    if (settings.secret)
      headers['x-pixeltrail-signature'] = webhookSignature(settings.secret, body);
    return { url: settings.url, method: 'POST', headers, body };
  },
};
