import {
  type AttributionDecision,
  type AttributionRules,
  type ConversionIdentity,
  candidatesFor,
  type TouchExclusion,
} from '../domain/attribution.js';
import type { EnvironmentConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import {
  bothExclusions,
  type FloodBy,
  type FloodCounts,
  type FraudCheck,
  floodBy,
  floodWindow,
  INSTALL_FRAUD_DEFAULTS,
  type InstallFraudSettings,
  installBeganAt,
  installExclusion,
  isInstall,
  suspiciousInstallReason,
} from '../domain/install-fraud.js';
import { emptyVerdicts, type InstallVerdicts } from '../domain/install-verdicts.js';
import type { IngestTx } from '../store/store.js';
import { type AppLookup, eventExclusion } from './eligibility.js';

// The install fraud checks of one event (issue 25, domain/install-fraud.ts) as ingest and the
// debugger run them: click injection is judged from the touches read; flooding needs the
// store's click counts, read only for the clicks that would win, until a winner is clean
// (so an install costs one more indexed count per barred click, not one per touch).

/** What one event's checks know and learn while its conversions are decided. */
export interface EventChecks {
  /** Every rule that bars a touch of this event (iOS IP matches, injected, flooding clicks). */
  exclude?: TouchExclusion;
  /** What keeps touches out of the event's conversion path: the iOS rule alone. */
  path_exclude?: TouchExclusion;
  /** Present for an install. */
  install?: InstallState;
}

interface InstallState {
  settings: InstallFraudSettings;
  /** Flood verdicts read so far: what flooded, or null for a clean click. */
  flood: Map<Touch, FloodBy>;
  /** Which check barred which touch (for the conversions' `fraud` flags). */
  barred: Map<Touch, FraudCheck>;
  /** Why the install looks sent by no phone, or null. */
  suspicious: string | null;
}

/**
 * The checks of `e`'s conversions in its environment: the iOS rule of every app event and, for
 * an install, the fraud checks. `rawIp` is the address as sent (the stored one may be hashed).
 */
export function eventChecks(
  e: TrackedEvent,
  env: EnvironmentConfig | undefined,
  apps: AppLookup | undefined,
  rawIp: string | undefined,
): EventChecks {
  const ios = eventExclusion(e, env, apps);
  const settings = env?.install_fraud ?? INSTALL_FRAUD_DEFAULTS;
  if (!isInstall(e, settings)) return ios ? { exclude: ios, path_exclude: ios } : {};
  const install: InstallState = {
    settings,
    flood: new Map(),
    barred: new Map(),
    suspicious: suspiciousInstallReason(e, rawIp ?? e.user.ip, settings),
  };
  const fraud = installExclusion(settings, installBeganAt(e), install.flood, install.barred);
  return { exclude: bothExclusions(ios, fraud), ...(ios ? { path_exclude: ios } : {}), install };
}

/** One click's counts around it, each query stopping one past its threshold. */
async function floodCounts(tx: IngestTx, t: Touch, s: InstallFraudSettings): Promise<FloodCounts> {
  const { from, to } = floodWindow(t.time);
  const count = (by: 'anonymous_id' | 'ip', value: string | null, max: number) =>
    max > 0 && value ? tx.countClicks(t.env_id, by, value, from, to, max + 1) : null;
  const device = await count('anonymous_id', t.anonymous_id, s.flood_clicks_per_device);
  if (device !== null && device > s.flood_clicks_per_device) return { device, ip: null };
  return { device, ip: await count('ip', t.ip, s.flood_clicks_per_ip) };
}

/** Reads the flood verdict of each click not judged yet. */
export async function judgeFlood(
  tx: IngestTx,
  checks: EventChecks,
  clicks: readonly Touch[],
): Promise<void> {
  const install = checks.install;
  if (!install) return;
  for (const t of clicks) {
    if (t.kind !== 'click' || install.flood.has(t)) continue;
    install.flood.set(t, floodBy(await floodCounts(tx, t, install.settings), install.settings));
  }
}

/**
 * Judges, per destination, the clicks that would win until one is clean: candidates are
 * walked best first once (flood verdicts only remove clicks, never reorder them), and each
 * unjudged click met costs one bounded count. Linear in the touches read, plus one count per
 * flooding click ahead of the winner; attribution run afterwards credits the first clean one.
 */
export async function settleFlood(
  tx: IngestTx,
  checks: EventChecks,
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: Iterable<AttributionRules>,
): Promise<void> {
  const install = checks.install;
  if (!install) return;
  for (const r of rules)
    for (const c of candidatesFor(who, touches, r)) {
      if (!c.in_window || c.excluded) continue;
      if (c.touch.kind !== 'click') break;
      if (!install.flood.has(c.touch)) await judgeFlood(tx, checks, [c.touch]);
      if (install.flood.get(c.touch) === null) break;
    }
}

/** What an install's checks leave on each destination's conversion row. */
export interface FraudOutcome {
  /** The checks that fired, by destination; absent: none. */
  flags: Map<string, FraudCheck[]>;
  /** The verdicts the debugger explains (install-verdicts.ts), by destination. */
  verdicts: Map<string, InstallVerdicts>;
}

/** The outcome of an install decided without reading its touches (consent, a bot). */
export function untouchedOutcome(checks: EventChecks, dest_ids: readonly string[]): FraudOutcome {
  const out: FraudOutcome = { flags: new Map(), verdicts: new Map() };
  const install = checks.install;
  if (!install) return out;
  for (const id of dest_ids) {
    out.verdicts.set(id, emptyVerdicts(install.settings, install.suspicious));
    if (install.suspicious) out.flags.set(id, ['suspicious_install']);
  }
  return out;
}

/**
 * The `fraud` flags of each destination's conversion row: the checks that barred a touch
 * inside its window, and `suspicious_install` on every row; and the verdicts behind them. A
 * suspicious install under `suspicious_installs: reject` is credited nothing, saying why.
 */
export function fraudOutcome(
  checks: EventChecks,
  who: ConversionIdentity,
  touches: readonly Touch[],
  rules: ReadonlyMap<string, AttributionRules>,
  decisions: Map<string, AttributionDecision>,
): FraudOutcome {
  const out: FraudOutcome = { flags: new Map(), verdicts: new Map() };
  const install = checks.install;
  if (!install) return out;
  for (const [dest_id, r] of rules) {
    const found = new Set<FraudCheck>();
    const v = emptyVerdicts(install.settings, install.suspicious);
    for (const c of candidatesFor(who, touches, r)) {
      const check = c.in_window && c.excluded ? install.barred.get(c.touch) : undefined;
      if (check) found.add(check);
      const by = check === 'click_flooding' ? install.flood.get(c.touch) : null;
      if (by === 'device') v.flooding_device.push(c.touch.touch_id);
      else if (by === 'ip') v.flooding_ip.push(c.touch.touch_id);
    }
    if (install.suspicious) {
      found.add('suspicious_install');
      if (install.settings.suspicious_installs === 'reject')
        decisions.set(dest_id, { attributed: false, reason: install.suspicious });
    }
    if (found.size > 0) out.flags.set(dest_id, [...found]);
    out.verdicts.set(dest_id, v);
  }
  return out;
}
