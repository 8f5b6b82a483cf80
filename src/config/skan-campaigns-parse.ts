import type { SkanCampaignMap } from '../domain/skan-report.js';
import { isObj, type Reader } from './config-reader.js';

const KEYS = new Set(['ad_network_id', 'source', 'campaign_id']);
/** SKAdNetwork 4 / AdAttributionKit source identifiers have up to four digits. */
const SOURCE_RE = /^[0-9]{1,4}$/;

/**
 * Reads an app's `skan_campaigns` (issue 25): `{ad_network_id?, source, campaign_id}`, the
 * network's campaign (`campaign-id`) or source identifier (digits, matched as a prefix) →
 * our campaign id, so reports put SKAdNetwork figures beside that campaign's own.
 */
export function parseSkanCampaigns(r: Reader, raw: unknown, path: string): SkanCampaignMap[] {
  if (!Array.isArray(raw)) {
    r.errors.push({
      field: path,
      message: 'must be a list of {ad_network_id, source, campaign_id}',
    });
    return [];
  }
  return raw.map((x, i) => {
    const p = `${path}[${i}]`;
    const o = isObj(x) ? x : {};
    if (!isObj(x)) r.errors.push({ field: p, message: 'must be an object' });
    for (const k of Object.keys(o))
      if (!KEYS.has(k)) r.errors.push({ field: `${p}.${k}`, message: 'is not a known field' });
    const rawSource = typeof o.source === 'number' ? String(o.source) : o.source;
    const source = r.str({ source: rawSource }, 'source', `${p}.source`);
    if (source && !SOURCE_RE.test(source))
      r.errors.push({ field: `${p}.source`, message: 'must be 1-4 digits' });
    const ad_network_id =
      o.ad_network_id === undefined ? null : r.str(o, 'ad_network_id', `${p}.ad_network_id`);
    const campaign_id = r.str(o, 'campaign_id', `${p}.campaign_id`);
    return { ad_network_id, source, campaign_id };
  });
}
