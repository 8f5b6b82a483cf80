import type { ClearUserInfo } from './customer-info.js';
import type { TrafficSource } from './traffic-source.js';
import type { TouchView } from './viewability.js';

/** Where an event entered pixeltrail. */
export type EventSource = 'tag' | 'server' | 'pixel';

/**
 * Who sent a hit: a person, a bot or crawler (link scanners included), or a prefetch by a mail
 * privacy proxy or the browser. Only human hits are ever credited.
 */
export type Traffic = 'human' | 'bot' | 'prefetch';

/** Whether `traffic` is a person's: 'human', or absent (a hit stored before it was recorded). */
export function isPersonTraffic(traffic: Traffic | undefined): traffic is 'human' | undefined {
  return !traffic || traffic === 'human';
}

/** Consent as the event arrived with it; `null` means the caller said nothing. */
export interface Consent {
  ads: boolean | null;
  analytics: boolean | null;
  /** Why (`stated`, `gpc`, `tcf_no_purpose_1`, `default_denied`…); set by decideConsent. */
  signals?: string[];
}

/** Identity keys of the person behind an event or a touch, PII already hashed. */
export interface UserKeys {
  anonymous_id?: string;
  /** The `ptid` cookie the collector saw on the request, when it differs from anonymous_id. */
  cookie_id?: string;
  user_id?: string;
  email_sha256?: string;
  /** SHA-256 of the phone's E.164 digits without `+` (Meta, Pinterest, Snap). */
  phone_sha256?: string;
  /** SHA-256 of the phone as `+` and E.164 digits (Google, TikTok); only from a clear phone. */
  phone_e164_sha256?: string;
  /**
   * Name, gender, birth date and address, each normalised as Meta's customer-information page
   * says (customer-info.ts) and SHA-256 hashed on arrival: never stored in clear.
   */
  first_name_sha256?: string;
  last_name_sha256?: string;
  gender_sha256?: string;
  date_of_birth_sha256?: string;
  city_sha256?: string;
  state_sha256?: string;
  zip_sha256?: string;
  country_sha256?: string;
  ip?: string;
  user_agent?: string;
  click_id?: string;
  imp_id?: string;
  /**
   * Our click id in the Google Play install referrer the event brought
   * (`properties.install_referrer`, install-referrer.ts): it names the click the install came
   * from, so it outranks every other touch of its class.
   */
  install_referrer_click_id?: string;
  /** Ad platforms' own click and browser ids, forwarded to the platform that issued them. */
  fbc?: string;
  fbp?: string;
  gclid?: string;
  gbraid?: string;
  wbraid?: string;
  ttclid?: string;
  ttp?: string;
  sc_click_id?: string;
  epik?: string;
  li_fat_id?: string;
  rdt_cid?: string;
  /** Microsoft Advertising click id (`msclkid` landing parameter), for UET conversions. */
  msclkid?: string;
  /** X (Twitter) click id (`twclid` landing parameter), for the X Conversions API. */
  twclid?: string;
  /** The Trade Desk's user id (`%%TTD_TDID%%` macro on a landing URL, or from the server). */
  tdid?: string;
  /** Mobile device ids (see device-id.ts), normalized; match keys for app events. */
  idfa?: string;
  idfv?: string;
  gaid?: string;
  app_instance_id?: string;
  /**
   * The operating system the app event came from, lower-cased (`ios`, `android`…): an iOS app
   * event is matched by deterministic keys only (mobile-platform.ts, issue 25).
   */
  os?: string;
  /** App Tracking Transparency status the app read; only `authorized` keeps an IDFA. */
  att_status?: AttStatus;
  /**
   * The event carried an IDFA that is not kept (`zeros`: the all-zero id of a device that
   * opted out; `not_authorized`: ATT did not authorize it). No match key, but proof the event
   * came from an Apple device: it is still an iOS app event (mobile-platform.ts).
   */
  idfa_withheld?: 'zeros' | 'not_authorized';
}

/** `ATTrackingManager.AuthorizationStatus`, in our spelling (mobile-platform.ts). */
export type AttStatus = 'not_determined' | 'restricted' | 'denied' | 'authorized';

/** The platform ids a user may carry (see UserKeys). */
export const PLATFORM_ID_KEYS = [
  'fbc',
  'fbp',
  'gclid',
  'gbraid',
  'wbraid',
  'ttclid',
  'ttp',
  'sc_click_id',
  'epik',
  'li_fat_id',
  'rdt_cid',
  'msclkid',
  'twclid',
  'tdid',
] as const;

/** One product of an order, as Meta's `custom_data.contents` names its fields. */
export interface ContentItem {
  id: string;
  quantity?: number;
  item_price?: number;
}

/**
 * Where the conversion happened, in Meta's `action_source` words (the other platforms' own
 * words are mapped from these). It decides how old an event each platform still takes.
 */
export const ACTION_SOURCES = [
  'website',
  'app',
  'email',
  'phone_call',
  'chat',
  'physical_store',
  'system_generated',
  'business_messaging',
  'other',
] as const;
export type ActionSource = (typeof ACTION_SOURCES)[number];

/** Event properties; `value`, `currency`, `content_ids` and `contents` are typed. */
export interface EventProperties {
  value?: number;
  currency?: string;
  content_ids?: string[];
  contents?: ContentItem[];
  url?: string;
  [key: string]: unknown;
}

/** A validated, normalized event (DESIGN §5), ready to be stored. */
export interface TrackedEvent {
  env_id: string;
  event_name: string;
  event_id: string;
  /** Unix seconds. */
  event_time: number;
  /** Where the conversion happened, when the caller said (an offline import says so). */
  action_source?: ActionSource;
  /**
   * The app that sent it: its App Store id, Play package name or bundle id, as the config's
   * `apps` name it (an app listed as iOS makes its events iOS app events).
   */
  app_id?: string;
  source: EventSource;
  user: UserKeys;
  /**
   * In transit only, never stored with the event: the clear name and address values the event
   * brought (validation) or that an outbox row kept for its platform (the delivery lease).
   * protectEvent drops it; ingest puts it on the rows of destinations whose adapter declares
   * `clearUser`, which drop it once done (docs/customer-data.md).
   */
  clear_user?: ClearUserInfo;
  properties: EventProperties;
  consent: Consent;
  /** Validation notes that did not make the event unusable (missing currency…). */
  warnings: string[];
  /**
   * Test mode (like Meta's `test_event_code`): the event is stored, attributed and shown in
   * the live debugger, but never delivered to a destination nor counted in reports.
   */
  test_code?: string;
  /** Absent means human (events stored before traffic was recorded). */
  traffic?: Traffic;
  /** Sent by a browser (tag, pixel) without a signature: anyone can make a browser send one. */
  browser_sent?: boolean;
  /** Sent with the write key, or carrying a valid HMAC signature of its own. */
  verified?: 'write_key' | 'signature';
  /**
   * Where the page it was sent from was landed on from: UTM fields, ad click id, external
   * referrer (traffic-source.ts). Absent when nothing said (a direct visit, a later page).
   */
  traffic_source?: TrafficSource;
  /**
   * Whether the event is the first of a page load, as its sender says (the tag: issue 23).
   * Absent when it does not say; visit-touch.ts then takes a page view, or an event whose
   * landing names a campaign, for a landing.
   */
  landing?: boolean;
}

/**
 * A touch is an ad exposure we may credit (an impression or a click), or a visit: a landing
 * on the site from a campaign link, an ad click id or another site (issue 23). Visits feed
 * reports and multi-touch models; delivery credit never goes to one (DESIGN §6).
 */
export type TouchKind = 'impression' | 'click' | 'visit';

/** A recorded impression, click or visit with the identity keys it arrived with. */
export interface Touch {
  env_id: string;
  kind: TouchKind;
  /** The `imp_id` of an impression, the `click_id` of a click, a visit's id (`v_…`). */
  touch_id: string;
  dest_id: string | null;
  campaign_id: string | null;
  creative_id: string | null;
  placement_id: string | null;
  /** Unix seconds. */
  time: number;
  anonymous_id: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** Absent means human. */
  traffic?: Traffic;
  /** A visit's source (or what a click's landing URL said); absent on most ad touches. */
  traffic_source?: TrafficSource;
  /**
   * What the viewability tag measured of an impression (issue 24), when it was read with
   * the touch: absent when nothing was measured or it was not asked for.
   */
  view?: TouchView;
}
