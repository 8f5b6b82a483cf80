import {
  type LandingContext,
  readTrafficSource,
  type StatedCampaign,
  type TrafficSource,
} from './traffic-source.js';
import type { FieldError } from './validation-error.js';
import { isObj, optString } from './validation-fields.js';

/** An event's `campaign` field → our names (Segment's `context.campaign` uses the same). */
const CAMPAIGN_FIELDS = {
  source: 'source',
  medium: 'medium',
  name: 'campaign',
  term: 'term',
  content: 'content',
  id: 'id',
} as const;

/**
 * The campaign an event states: `{source, medium, name, term, content, id}`, each a string of
 * at most 256 characters (Segment's `context.campaign`, a server's own UTM fields).
 */
export function parseCampaign(raw: unknown, errors: FieldError[]): StatedCampaign | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) {
    errors.push({ field: 'campaign', message: 'must be an object' });
    return undefined;
  }
  const out: StatedCampaign = {};
  for (const [key, field] of Object.entries(CAMPAIGN_FIELDS)) {
    const v = optString(raw, key, `campaign.${key}`, errors);
    if (v !== undefined && v.trim() !== '') out[field] = v.trim();
  }
  return out;
}

/**
 * Where the event's page was landed on from (issue 23): what it states, its properties'
 * `utm_*`, its `properties.url` and `properties.referrer` (already scrubbed), read against
 * the environment's site. Undefined when nothing says, or when no context is given.
 */
export function eventTrafficSource(
  stated: StatedCampaign | undefined,
  properties: Readonly<Record<string, unknown>>,
  ctx: LandingContext | undefined,
): TrafficSource | undefined {
  if (!ctx) return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return readTrafficSource(
    { stated, properties, url: text(properties.url), referrer: text(properties.referrer) },
    ctx,
  );
}
