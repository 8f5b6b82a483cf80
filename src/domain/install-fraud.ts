import ipaddr from 'ipaddr.js';
import { isbot, isbotPatterns } from 'isbot';
import type { MatchKey, TouchExclusion } from './attribution.js';
import { describeGap } from './attribution.js';
import type { Touch, TrackedEvent } from './event.js';
import { parseCidr } from './private-address.js';

/**
 * Install fraud checks (issue 25), the three MMPs run on every install:
 * - **click injection**: an app on the device watches for installs and fires a click seconds
 *   before the new app's first open, to take the credit of a install it had no part in. A click
 *   closer to the install than `click_injection_window` (the click-to-install time, CTIT), or
 *   after Google Play says the install began, earns no credit;
 * - **click flooding**: a device or an address that sends clicks by the hundred (to be the last
 *   click before whatever install follows). Its clicks earn no credit;
 * - **suspicious installs**: an install sent by a bot, a headless browser or an HTTP library
 *   (no phone sends those), or from a data centre's address: flagged, or refused credit.
 * They apply to install events only; what attribution does with the barred touches is DESIGN
 * §6's rule with the next eligible touch (attribution.ts, `rules.exclude`).
 */

/** The checks, as conversions record them (`fraud`) and the health page counts them. */
export const FRAUD_CHECKS = ['click_injection', 'click_flooding', 'suspicious_install'] as const;
export type FraudCheck = (typeof FRAUD_CHECKS)[number];

/** An environment's `install_fraud` settings, defaults filled in. */
export interface InstallFraudSettings {
  /** Event names that are installs. */
  install_events: string[];
  /** A click this close before the install is injected; 0 turns the check off. */
  click_injection_window_ms: number;
  /** More clicks than this in an hour from one device (its anonymous id) is flooding; 0: off. */
  flood_clicks_per_device: number;
  /** More clicks than this in an hour from one IP address is flooding; 0: off. */
  flood_clicks_per_ip: number;
  /** `flag`: a suspicious install is credited and flagged; `reject`: it is credited nothing. */
  suspicious_installs: 'flag' | 'reject';
  /** CIDRs of data centres (the cloud providers publish theirs): installs from them are suspicious. */
  datacenter_ips: string[];
}

/**
 * Defaults. `install` names: ours and what Segment's `Application Installed` and Snowplow's
 * `application_install` become (`app_install`), the Segment name sent as is, and Firebase's
 * `first_open`. CTIT: AppsFlyer and Adjust treat installs under about 10 s after the click as
 * injected. Flooding: a person taps an ad a few times an hour at most, while a carrier NAT or
 * an office puts many people behind one address, hence the higher bar for an IP.
 */
export const INSTALL_FRAUD_DEFAULTS: InstallFraudSettings = {
  install_events: ['app_install', 'install', 'Application Installed', 'first_open'],
  click_injection_window_ms: 10_000,
  flood_clicks_per_device: 20,
  flood_clicks_per_ip: 200,
  suspicious_installs: 'flag',
  datacenter_ips: [],
};

/** Flooding is judged over the hour around a click: this long before it and after it. */
export const FLOOD_HALF_WINDOW_S = 1800;

/** True when `e` is an install under these settings. */
export function isInstall(e: Pick<TrackedEvent, 'event_name'>, s: InstallFraudSettings): boolean {
  return s.install_events.includes(e.event_name);
}

/**
 * When Google Play says the install began (`install_begin_timestamp_server_seconds` of the
 * Play Install Referrer API, sent as an event property), Unix s; null when not sent. Play's
 * server clock is compared with ours, never the device's (`install_begin_timestamp_seconds`).
 */
export function installBeganAt(e: Pick<TrackedEvent, 'properties'>): number | null {
  const v = Number(e.properties.install_begin_timestamp_server_seconds);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : null;
}

/** Why a click is injected into this install, or null (the click-to-install-time check). */
export function injectionReason(
  touch: Touch,
  gap_s: number,
  s: InstallFraudSettings,
  installBegan: number | null,
): string | null {
  if (touch.kind !== 'click') return null;
  if (installBegan !== null && touch.time > installBegan)
    return (
      `click injection: click ${touch.touch_id} came ${describeGap(touch.time - installBegan)} ` +
      'after Google Play says the install began'
    );
  const window_s = s.click_injection_window_ms / 1000;
  if (window_s > 0 && gap_s < window_s)
    return (
      `click injection: the install came ${describeGap(Math.max(gap_s, 0))} after click ` +
      `${touch.touch_id}, under the ${describeGap(window_s)} click_injection_window`
    );
  return null;
}

/** Clicks counted in the hour around a click, by its device and by its address. */
export interface FloodCounts {
  /** Null when the click has no device id, or the check is off. */
  device: number | null;
  ip: number | null;
}

/** The hour flooding is judged over around a click at `time` (Unix s, both ends included). */
export function floodWindow(time: number): { from: number; to: number } {
  return { from: time - FLOOD_HALF_WINDOW_S, to: time + FLOOD_HALF_WINDOW_S };
}

/** What flooded around a click: its device's clicks, its address's, or neither (null). */
export type FloodBy = 'device' | 'ip' | null;

/** What floods around a click, from its counts. */
export function floodBy(counts: FloodCounts, s: InstallFraudSettings): FloodBy {
  // Counts stop at the threshold + 1 (an index range no longer than that): "more than".
  const over = (n: number | null, max: number) => max > 0 && n !== null && n > max;
  if (over(counts.device, s.flood_clicks_per_device)) return 'device';
  if (over(counts.ip, s.flood_clicks_per_ip)) return 'ip';
  return null;
}

/** Why a click is part of a flood, or null. */
export function floodReason(touch: Touch, by: FloodBy, s: InstallFraudSettings): string | null {
  if (by === 'device')
    return (
      `click flooding: its device sent more than ${s.flood_clicks_per_device} clicks in the ` +
      `hour around click ${touch.touch_id}`
    );
  if (by === 'ip')
    return (
      `click flooding: its IP address sent more than ${s.flood_clicks_per_ip} clicks in the ` +
      `hour around click ${touch.touch_id}`
    );
  return null;
}

/**
 * Headless browsers, automation and HTTP libraries: no phone installs an app with these
 * agents. isbot knows crawlers and most automation; these are the server-side clients and
 * emulator farms' tools it leaves to the caller (an app's own HTTP stack, okhttp or
 * CFNetwork, is fine and not listed).
 */
const SERVER_AGENT_RE =
  /headless|phantomjs|selenium|webdriver|puppeteer|playwright|electron|python-requests|python-urllib|aiohttp|httpx|go-http-client|node-fetch|undici|axios|got \(|java\/|apache-httpclient|libwww-perl|wget|curl\/|postmanruntime|insomnia|scrapy/i;

/**
 * The HTTP stacks of apps on phones, as their product tokens (OkHttp, Android's Dalvik agent,
 * Apple's CFNetwork and the Darwin version beside it): an SDK posting an install from the
 * device sends them, and isbot counts some as non-browsers (`okhttp` is on its list, and so
 * is the `http` inside it). isbot judges the whole agent first; only what it found inside
 * these tokens is forgiven. An agent that merely names Android or an iPhone is no app stack:
 * Googlebot Smartphone does.
 */
const APP_STACK_TOKEN_RE = /\b(?:okhttp|dalvik|cfnetwork|darwin)\/[\w.-]*/gi;

/**
 * isbot's verdict, except where every pattern it matched matched inside an app stack's token
 * (`okhttp/4.12.0`). Patterns are re-read only for agents isbot calls bots.
 */
function isBotAgent(ua: string): boolean {
  if (!isbot(ua)) return false;
  const spans = [...ua.matchAll(APP_STACK_TOKEN_RE)].map((m) => [m.index, m.index + m[0].length]);
  if (spans.length === 0) return true;
  const inStack = (m: RegExpExecArray) =>
    spans.some(([from, to]) => m.index >= from && m.index + m[0].length <= to);
  return isbotPatterns(ua).some((p) =>
    [...ua.matchAll(new RegExp(p, 'gi'))].some((m) => !inStack(m)),
  );
}

/** An install's data-centre ranges, parsed once per settings object. */
const parsedRanges = new WeakMap<InstallFraudSettings, ReturnType<typeof parseCidr>[]>();

/** The data-centre range (as configured) `ip` lies in, or null. */
function datacenterRange(ip: string, s: InstallFraudSettings): string | null {
  if (s.datacenter_ips.length === 0) return null;
  let ranges = parsedRanges.get(s);
  if (!ranges) {
    ranges = s.datacenter_ips.map(parseCidr);
    parsedRanges.set(s, ranges);
  }
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return null;
  }
  const i = ranges.findIndex(
    (r) => r !== null && r[0].kind() === addr.kind() && addr.match(r[0], r[1]),
  );
  return i < 0 ? null : s.datacenter_ips[i];
}

/**
 * Why an install looks sent by no phone, or null: its user agent is a bot's (isbot), a
 * headless browser's or an HTTP library's, or its address is in `datacenter_ips`. `rawIp` is
 * the address as sent (the stored one may be hashed); the reason names the range, never the
 * address, since it is stored as it is (`ip_storage` may keep no address in clear).
 */
export function suspiciousInstallReason(
  e: Pick<TrackedEvent, 'user' | 'traffic'>,
  rawIp: string | undefined,
  s: InstallFraudSettings,
): string | null {
  if (e.traffic === 'bot') return 'suspicious install: sent by a bot';
  const ua = e.user.user_agent;
  if (ua && (SERVER_AGENT_RE.test(ua) || isBotAgent(ua)))
    return `suspicious install: user agent ${ua.slice(0, 80)} is a bot, headless browser or HTTP library`;
  const range = rawIp ? datacenterRange(rawIp, s) : null;
  if (range)
    return `suspicious install: its address is in the data centre range ${range} (datacenter_ips)`;
  return null;
}

/** Flood verdicts already known, by touch: what flooded, or null for a clean click. */
export type FloodVerdicts = ReadonlyMap<Touch, FloodBy>;

/**
 * The exclusion of an install's clicks: injected ones, and those whose flood verdict says so.
 * `barred` learns which check barred which touch (for the conversion's `fraud` flags).
 */
export function installExclusion(
  s: InstallFraudSettings,
  installBegan: number | null,
  flood: FloodVerdicts,
  barred: Map<Touch, FraudCheck>,
): TouchExclusion {
  return (touch: Touch, _key: MatchKey, gap_s: number) => {
    const injected = injectionReason(touch, gap_s, s, installBegan);
    if (injected) {
      barred.set(touch, 'click_injection');
      return injected;
    }
    const flooded = floodReason(touch, flood.get(touch) ?? null, s);
    if (flooded) barred.set(touch, 'click_flooding');
    return flooded;
  };
}

/** Two exclusions as one: the first reason wins. */
export function bothExclusions(
  a: TouchExclusion | undefined,
  b: TouchExclusion | undefined,
): TouchExclusion | undefined {
  if (!a || !b) return a ?? b;
  return (touch, key, gap_s) => a(touch, key, gap_s) ?? b(touch, key, gap_s);
}
