import { INSTALL_FRAUD_DEFAULTS, type InstallFraudSettings } from '../domain/install-fraud.js';
import { parseCidr } from '../domain/private-address.js';
import { isObj, type Reader } from './config-reader.js';

const KEYS = new Set([
  'install_events',
  'click_injection_window',
  'flood_clicks_per_device',
  'flood_clicks_per_ip',
  'suspicious_installs',
  'datacenter_ips',
]);

/**
 * An environment's `install_fraud` block (issue 25): which events are installs and the
 * thresholds of the click injection and flooding checks, each with its default
 * (docs/configuration.md, docs/mobile.md). Absent: every default.
 */
export function parseInstallFraud(r: Reader, raw: unknown, path: string): InstallFraudSettings {
  if (raw === undefined) return INSTALL_FRAUD_DEFAULTS;
  if (!isObj(raw)) {
    r.errors.push({ field: path, message: 'must be an object' });
    return INSTALL_FRAUD_DEFAULTS;
  }
  for (const k of Object.keys(raw))
    if (!KEYS.has(k)) r.errors.push({ field: `${path}.${k}`, message: 'is not a known field' });
  const d = INSTALL_FRAUD_DEFAULTS;
  const datacenter = r.list(raw, 'datacenter_ips', `${path}.datacenter_ips`, d.datacenter_ips);
  datacenter.forEach((c, i) => {
    if (!parseCidr(c))
      r.errors.push({
        field: `${path}.datacenter_ips[${i}]`,
        message: 'must be an IP address or CIDR such as 3.5.140.0/22',
      });
  });
  return {
    install_events: r.list(raw, 'install_events', `${path}.install_events`, d.install_events),
    click_injection_window_ms: r.duration(
      raw,
      'click_injection_window',
      `${path}.click_injection_window`,
      `${d.click_injection_window_ms / 1000}s`,
    ),
    flood_clicks_per_device: r.count(
      raw,
      'flood_clicks_per_device',
      `${path}.flood_clicks_per_device`,
      d.flood_clicks_per_device,
    ),
    flood_clicks_per_ip: r.count(
      raw,
      'flood_clicks_per_ip',
      `${path}.flood_clicks_per_ip`,
      d.flood_clicks_per_ip,
    ),
    suspicious_installs: r.oneOf(
      raw,
      'suspicious_installs',
      `${path}.suspicious_installs`,
      ['flag', 'reject'] as const,
      d.suspicious_installs,
    ),
    datacenter_ips: datacenter,
  };
}
