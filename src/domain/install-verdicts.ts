import type { TouchExclusion } from './attribution.js';
import type { Touch } from './event.js';
import {
  bothExclusions,
  type FloodBy,
  type InstallFraudSettings,
  installExclusion,
} from './install-fraud.js';

/**
 * What an install's fraud checks decided at ingest, kept with each of its conversion rows
 * (`fraud_verdicts`) so that the debugger explains that decision instead of judging again:
 * flooding is counted over clicks that keep coming after the install, and a data-centre
 * address is judged on the address as sent, which the store may keep only as a hash.
 */
export interface InstallVerdicts {
  /** The settings the install was judged by (the config may have changed since). */
  click_injection_window_ms: number;
  flood_clicks_per_device: number;
  flood_clicks_per_ip: number;
  suspicious_installs: 'flag' | 'reject';
  /** Clicks of the row's candidates barred as flooding (touch ids), by what flooded. */
  flooding_device: string[];
  flooding_ip: string[];
  /** Why the install looked sent by no phone; null when it did not. */
  suspicious: string | null;
}

/** The verdicts of an install before any click is judged. */
export function emptyVerdicts(s: InstallFraudSettings, suspicious: string | null): InstallVerdicts {
  return {
    click_injection_window_ms: s.click_injection_window_ms,
    flood_clicks_per_device: s.flood_clicks_per_device,
    flood_clicks_per_ip: s.flood_clicks_per_ip,
    suspicious_installs: s.suspicious_installs,
    flooding_device: [],
    flooding_ip: [],
    suspicious,
  };
}

/**
 * The exclusion the recorded verdicts make of an install's touches, for the debugger: clicks
 * injected by the recorded window (a function of the touch and the install alone), the clicks
 * recorded as flooding and no other, and, when the install was refused credit as suspicious
 * (`reject`), every touch with that reason.
 */
export function recordedExclusion(
  v: InstallVerdicts,
  base: InstallFraudSettings,
  installBegan: number | null,
  touches: readonly Touch[],
): TouchExclusion | undefined {
  const settings: InstallFraudSettings = {
    ...base,
    click_injection_window_ms: v.click_injection_window_ms,
    flood_clicks_per_device: v.flood_clicks_per_device,
    flood_clicks_per_ip: v.flood_clicks_per_ip,
  };
  const device = new Set(v.flooding_device);
  const ip = new Set(v.flooding_ip);
  const flood = new Map<Touch, FloodBy>();
  for (const t of touches) {
    if (t.kind !== 'click') continue;
    if (device.has(t.touch_id)) flood.set(t, 'device');
    else if (ip.has(t.touch_id)) flood.set(t, 'ip');
  }
  const fraud = installExclusion(settings, installBegan, flood, new Map());
  const refused = v.suspicious_installs === 'reject' ? v.suspicious : null;
  return bothExclusions(fraud, refused ? () => refused : undefined);
}
