import type { MatchKey } from './attribution.js';
import { matchTypeOf } from './attribution.js';
import type { ActionSource, AttStatus, EventSource, UserKeys } from './event.js';

/**
 * Which app events come from iOS, and what Apple lets attribution do with them (issue 25).
 *
 * Apple's App Store Review Guideline 5.1.2 and the User Privacy and Data Use page
 * (https://developer.apple.com/app-store/user-privacy-and-data-use/) forbid "fingerprinting":
 * deriving data from a device (its network connection, its configuration) to identify it,
 * whatever the user answered to App Tracking Transparency. An `ip` or `ip+ua` match of an iOS
 * app install to an ad touch is exactly that, so those keys are off for iOS app events unless
 * the operator turns them on (`ios_probabilistic_matching`), knowingly.
 */

/** Operating systems under App Tracking Transparency: every one that has the IDFA. */
const ATT_OS: ReadonlySet<string> = new Set(['ios', 'ipados', 'tvos', 'visionos']);
const MAX_OS_CHARS = 32;
const OS_RE = /^[a-z0-9][a-z0-9 ._-]*$/;

/**
 * `user.os` as stored: trimmed, lower-cased, spaces collapsed (`iOS` → `ios`, Segment's
 * `Mac OS X` → `mac os x`); the `iPhone OS` of older SDKs is `ios`. Null when it is no OS
 * name (empty, too long, or holding anything but letters, digits, spaces, `.`, `_`, `-`).
 */
export function normalizeOs(raw: string): string | null {
  const os = raw.trim().toLowerCase().replace(/\s+/g, ' ');
  if (os === '' || os.length > MAX_OS_CHARS || !OS_RE.test(os)) return null;
  return os === 'iphone os' ? 'ios' : os;
}

/** True for an OS under App Tracking Transparency (iOS, iPadOS, tvOS, visionOS). */
export function isAppleAttOs(os: string | undefined): boolean {
  return os !== undefined && ATT_OS.has(os);
}

/**
 * App Tracking Transparency status, as `ATTrackingManager.AuthorizationStatus` names it
 * (https://developer.apple.com/documentation/apptrackingtransparency/attrackingmanager/authorizationstatus).
 */
export const ATT_STATUSES: readonly AttStatus[] = [
  'not_determined',
  'restricted',
  'denied',
  'authorized',
];

/**
 * `user.att_status` in our spelling: Apple's case names in any case (`notDetermined`,
 * `not_determined`, `Not Determined` — Segment's IDFA plugin writes `notDetermined`), or the
 * enum's raw value 0–3 (notDetermined, restricted, denied, authorized). Null when it is none.
 */
export function normalizeAttStatus(raw: unknown): AttStatus | null {
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d$/.test(raw.trim())))
    return ATT_STATUSES[Number(raw)] ?? null;
  if (typeof raw !== 'string') return null;
  const compact = raw
    .trim()
    .toLowerCase()
    .replace(/[\s_-]/g, '');
  return ATT_STATUSES.find((s) => s.replace('_', '') === compact) ?? null;
}

/** The platform the config's `apps` give the app an event names (skan's `AppEntry`). */
export type AppPlatformLookup = (appId: string) => 'ios' | 'android' | undefined;

/** What of an event says where it comes from. */
export interface PlatformFacts {
  user: Pick<
    UserKeys,
    | 'os'
    | 'idfa'
    | 'idfv'
    | 'att_status'
    | 'idfa_withheld'
    | 'gaid'
    | 'app_instance_id'
    | 'install_referrer_click_id'
  >;
  app_id?: string;
  source: EventSource;
  action_source?: ActionSource;
}

/**
 * Why an event is an iOS app event, in words for the debugger, or null when it is not one:
 * it says so (`user.os`: iOS, iPadOS, tvOS, visionOS), carries an IDFA (even one not kept:
 * all zeros, or without ATT authorization) or an IDFV, an App Tracking Transparency status
 * (ATT exists on Apple's platforms only), or names an app the config's `apps` list as iOS.
 * Refusing tracking must never make a device easier to match than allowing it. Only apps
 * send these (our tag never does; Segment's
 * `context.os` and Snowplow's `mobile_context` come from their mobile SDKs, which post as
 * Snowplow's tracker does, like a browser). An event pixel's, or one stated to come from a
 * website, is never an app event: Safari on an iPhone is the web, which Apple's app rules do
 * not cover.
 */
export function iosAppEvidence(e: PlatformFacts, appPlatform?: AppPlatformLookup): string | null {
  if (e.source === 'pixel' || e.action_source === 'website') return null;
  if (isAppleAttOs(e.user.os)) return `user.os is ${e.user.os}`;
  const u = e.user;
  if (u.idfa) return 'it carries an IDFA';
  if (u.idfa_withheld === 'zeros') return 'it carries an IDFA, all zeros';
  if (u.idfa_withheld === 'not_authorized')
    return `it carries an IDFA, not kept: App Tracking Transparency status ${u.att_status}`;
  if (u.idfv) return 'it carries an IDFV';
  if (u.att_status) return `it carries an App Tracking Transparency status, ${u.att_status}`;
  const platform = e.app_id ? appPlatform?.(e.app_id) : undefined;
  if (platform === 'ios') return `app ${e.app_id} is an iOS app (config apps)`;
  return null;
}

/** The app an event comes from: iOS, Android, or an app whose platform nothing names. */
export type AppKind = 'ios' | 'android' | 'app';

/**
 * Which app an event comes from, or null for the web (the debugger's advice on the keys to
 * send): iOS by iosAppEvidence; Android when `user.os` says so, it carries a GAID or a Play
 * install referrer, or names an app the config lists as Android; else an app when it names
 * one, carries an app instance id or says `action_source: app`.
 */
export function appKindOf(e: PlatformFacts, appPlatform?: AppPlatformLookup): AppKind | null {
  if (e.source === 'pixel' || e.action_source === 'website') return null;
  if (iosAppEvidence(e, appPlatform)) return 'ios';
  const u = e.user;
  const platform = e.app_id ? appPlatform?.(e.app_id) : undefined;
  if (u.os === 'android' || u.gaid || u.install_referrer_click_id || platform === 'android')
    return 'android';
  if (e.app_id || u.app_instance_id || e.action_source === 'app') return 'app';
  return null;
}

/**
 * The reason an iOS app event's `ip` / `ip+ua` matches earn no credit, as the debugger and an
 * unattributed conversion show it.
 */
export function iosProbabilisticOff(evidence: string): string {
  return (
    `iOS app event (${evidence}): IP matching is off — Apple forbids fingerprinting a ` +
    'device; only the IDFA, user id, email, phone, click id and app ids match ' +
    '(ios_probabilistic_matching: true allows it, at your own risk)'
  );
}

/**
 * The eligibility rule of an iOS app event's matches: a probabilistic key (`ip+ua`, `ip`)
 * earns no credit, with `reason`; deterministic keys are untouched.
 */
export function deterministicOnly(reason: string): (key: MatchKey) => string | null {
  return (key) => (matchTypeOf(key) === 'probabilistic' ? reason : null);
}
