import type { ApplePostbacksConfig } from './apple-postback.js';
import type { ChannelSettings } from './channel-rules.js';
import type { ConsentDefault } from './consent.js';
import type { ConsentCategories } from './consent-categories.js';
import type { ConversionSchema } from './conversion-schema.js';
import type { RetryBudget } from './delivery-policy.js';
import type { FxRate } from './fx-rates.js';
import type { InstallFraudSettings } from './install-fraud.js';
import type { IpStorage } from './ip-privacy.js';
import type { SkanCampaignMap } from './skan-report.js';

/** Which conversions a destination spends a platform's budget on (issue 6). */
export type AcceptPolicy = 'any' | 'signed' | 'server_only';

/** A downstream destination of attributed conversions (DESIGN §4). */
export interface DestinationConfig {
  id: string;
  /** Adapter name: webhook, meta, tiktok, ga4, google_ads, … (see delivery/destinations). */
  type: string;
  /** Conversion event names this destination receives. */
  events: string[];
  /** Overrides of the adapter's mapping from our event names to the platform's. */
  event_map: Record<string, string>;
  click_window_ms: number;
  view_window_ms: number;
  /**
   * Windows of probabilistic (`ip+ua`, `ip`) clicks and impressions as configured; absent
   * means 1 day. Attribution clamps them to the windows above (see attributionRules).
   */
  probabilistic_click_window_ms?: number;
  probabilistic_view_window_ms?: number;
  /** Only conversions credited to a touch are sent (default); false sends all of them. */
  attributed_only: boolean;
  /**
   * Only impressions the viewability tag (`/v.js`) measured as viewable (MRC: half the ad in
   * view for a continuous second, two for video) earn view-through credit (issue 24). Absent
   * or false: every served impression may.
   */
  view_requires_viewable?: boolean;
  retry: RetryBudget;
  timeout_ms: number;
  /** Conversions per request (capped by the platform's limit) and how long to wait to fill one. */
  batch: { size: number; max_wait_ms: number };
  /**
   * Requests in flight to this destination at once. 1 (the default) delivers in conversion
   * order; more trade that order for throughput on a slow, one-conversion-per-request API.
   */
  max_in_flight?: number;
  /**
   * How long a conversion waits after its first copy before it is sent, so that copies arriving
   * meanwhile (the browser's and the server's) go out as one merged event (DESIGN §7,
   * docs/delivery.md). The config file's default is 30 s; absent (a destination built in code)
   * or 0 sends at once.
   */
  merge_window_ms?: number;
  /**
   * `merge_window: auto` (the config file's default): the window holds a conversion only when
   * the environment also receives that event name from the other side (browser or server).
   */
  merge_window_auto?: boolean;
  /** Send to the platform's test channel (Meta test_event_code, TikTok test_event_code…). */
  test_mode: boolean;
  /** The platform's API host; tests point it at loopback. Null means the public default. */
  base_url: string | null;
  /**
   * `server_only`: only events sent with the write key; `signed`: those, or browser events
   * carrying a valid signature; `any` (default): every event.
   */
  accept?: AcceptPolicy;
  /**
   * `/c` adds the click id to the landing URL of this destination's links (default true);
   * false for landing pages that refuse unknown parameters.
   */
  append_click_id?: boolean;
  /** Type-specific fields (pixel_id, access_token, url, secret…), checked by the adapter schema. */
  settings: Record<string, unknown>;
  /**
   * Made or edited through the admin API (set by the catalog, never read from a file): it is
   * sent to public addresses only, unless `allow_private_destinations` allows others.
   */
  from_api?: boolean;
  /**
   * Secrets given as `env:NAME`, by settings field: `settings` holds the value read from the
   * environment, this the reference, so an edit saves the reference and never the value.
   */
  secret_refs?: Record<string, string>;
}

/** One site or app with its keys and destinations. */
export interface EnvironmentConfig {
  id: string;
  name: string;
  write_key: string;
  /** Further valid write keys, so a key can be rotated with two valid at once. */
  previous_write_keys: string[];
  /** What a visitor who said nothing has consented to; `denied` suits the EU. */
  consent_default: ConsentDefault;
  /** Our IAB TCF vendor id: when set, TCF strings must give this vendor consent too. */
  tcf_vendor_id: number | null;
  /** How client IPs are stored: keyed hash (default), truncated, or as they came. */
  ip_storage: IpStorage;
  /** Key of the IP HMAC; defaults to one derived from the environment id and first write key. */
  ip_secret: string;
  /** Which consent category ids (Segment categoryPreferences, Snowplow scopes) mean ads/analytics. */
  consent_categories: ConsentCategories;
  /** The tag (`t.js?env_id=`) takes consent from the page's TCF or GPP CMP. */
  follow_cmp: boolean;
  /** Add `Partitioned` (CHIPS) to the `ptid` cookie on HTTPS. */
  cookie_partitioned?: boolean;
  /** Origins allowed to send beacons from a browser; `*` allows any. */
  allowed_origins: string[];
  /** Hosts `/c` may redirect to without a signature; `*.example.com` allows subdomains. */
  click_url_hosts: string[];
  /** HMAC key of signed click links; defaults to the write key. */
  click_secret: string;
  /** Landing-URL parameter `/c` adds the click id under and the tag reads (`pt_click_id`). */
  click_id_param: string;
  /** Treat `DNT: 1` like `Sec-GPC: 1` (always honoured). */
  honor_dnt: boolean;
  /**
   * The currency reports convert revenue and spend into (`reporting_currency`, ISO 4217);
   * null: no conversion, a report names a currency only when all its money is in one.
   */
  reporting_currency: string | null;
  /**
   * iOS app events may be credited by `ip` and `ip+ua` matches (absent: false). Apple forbids
   * fingerprinting users who did not grant tracking (docs/mobile.md); an app's own setting in
   * `apps` wins over this one.
   */
  ios_probabilistic_matching?: boolean;
  /** Channel rules and ignored referrers (`channels:`); absent: GA4's defaults (issue 23). */
  channels?: ChannelSettings;
  /** Install fraud checks (`install_fraud`, install-fraud.ts); absent: the defaults. */
  install_fraud?: InstallFraudSettings;
  destinations: DestinationConfig[];
}

/** The store an app is sold in (issue 25). */
export type AppPlatform = 'ios' | 'android';

/**
 * A mobile app and the environment its installs, in-app events and Apple postbacks belong
 * to (config `apps`, issue 25).
 */
export interface AppEntry {
  /** iOS: the App Store id (digits, as postbacks carry it); Android: the package name. */
  app_id: string;
  platform: AppPlatform;
  env_id: string;
  /** iOS bundle identifier (`com.example.shop`), as SDKs name the app; optional. */
  bundle_id?: string;
  /** Shown in reports and the dashboard; optional. */
  name?: string;
  /**
   * This iOS app's events may be credited by `ip` / `ip+ua` matches, whatever its environment
   * says (docs/mobile.md: Apple forbids fingerprinting); absent: the environment's setting.
   */
  ios_probabilistic_matching?: boolean;
  /** What the app's SKAdNetwork/AdAttributionKit conversion values mean; null: undecoded. */
  conversion_values?: ConversionSchema | null;
  /** The ad networks' SKAdNetwork campaigns / source identifiers mapped to our campaign ids. */
  skan_campaigns?: SkanCampaignMap[];
}

/** Everything the server needs, read and validated once at start (STYLE rule 10). */
export interface AppConfig {
  port: number;
  host: string;
  /** SQLite data folder. */
  data_dir: string;
  /** PostgreSQL connection string (`DATABASE_URL`); when set, SQLite is not used. */
  database_url: string | null;
  admin_token: string;
  /** Further valid admin tokens, for rotation. */
  previous_admin_tokens: string[];
  /**
   * Requests a minute per client IP and per verified key; 0 turns that limit off.
   * `auth_failures`: failed authentications a minute per client IP before it is locked out
   * of authenticating (a minute, doubling while it goes on); 0 turns the lockout off.
   */
  rate_limit: { per_ip: number; per_key: number; auth_failures: number };
  environments: EnvironmentConfig[];
  /** Mobile apps and their environments (`apps`); empty when none are configured. */
  apps: AppEntry[];
  /** Which keys verify Apple postbacks besides Apple's own, and what is kept (`apple_postbacks`). */
  apple_postbacks: ApplePostbacksConfig;
  /** Touches older than this are purged (DESIGN §6: 90 days). */
  touch_retention_ms: number;
  /** Events older than this are purged (their conversions stay, for reports). */
  event_retention_ms: number;
  /** How long hot-path writes wait to be grouped into one transaction. */
  flush_interval_ms: number;
  /**
   * How long a worker holds claimed deliveries; a process that dies mid-send gives them up
   * after this long (at once, when it ran on the same host and a restart notices).
   */
  delivery_lease_ms: number;
  /**
   * The proxies in front whose `X-Forwarded-For` is trusted for the client IP: false (none,
   * the socket's address), a hop count (`true` is 1), or the proxies' addresses and CIDRs.
   * The client is the rightmost address no trusted proxy wrote (see docs/deploy.md).
   */
  trust_proxy: false | number | string[];
  /**
   * How long a client has to send its whole request, head and body; one that trickles in is
   * answered 408 and closed (docs/input-hardening.md). Default 30 s.
   */
  body_timeout_ms: number;
  /**
   * Client connections open at once; past it the one waiting longest is closed to make room.
   * Null (the default): the process's open-file limit less a headroom.
   */
  max_connections: number | null;
  /**
   * Where destinations made or edited through the admin API may send besides public
   * addresses: nowhere (false, the default), anywhere (true), or these CIDRs. The config
   * file's own destinations are not restricted (docs/privacy-security.md).
   */
  allow_private_destinations: boolean | string[];
  /**
   * When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`; null (the
   * default) leaves it open, as Prometheus exporters usually are.
   */
  metrics_token: string | null;
  log_level: string;
  /** True when no config file was given and a demo environment was made. */
  demo: boolean;
  /** Public base URL printed in snippets. */
  public_url: string;
  /**
   * Whether `public_url` (or `PIXELTRAIL_PUBLIC_URL`) was given, rather than defaulted to
   * `http://localhost:PORT`: then answers that name the collector's address use it, never
   * the request's `Host`.
   */
  public_url_configured: boolean;
  /**
   * First-party mode: every route is also served under this path (`/metrics-xyz`), so a
   * reverse proxy on the shop's own host can forward it unchanged. Empty: none.
   */
  path_prefix: string;
  /**
   * Key material for encrypting the secrets of destinations saved through the admin API
   * (`PIXELTRAIL_SECRETS_KEY` or `secrets_key`); null keeps them in clear in the database.
   */
  secrets_key: string | null;
  /**
   * Keys secrets may still be sealed with while `secrets_key` is rotated
   * (`PIXELTRAIL_SECRETS_KEY_PREVIOUS` or `secrets_key_previous`): they open, and are sealed
   * again with `secrets_key` at the next start.
   */
  secrets_key_previous: string[];
  /** Exchange rates for reports (`fx_rates`); rates saved through `/api/fx-rates` win. */
  fx_rates: FxRate[];
}

/** Environment variables for `env:NAME` secrets. */
export type SecretSource = Record<string, string | undefined>;

/** Settings that come from the process environment rather than the file. */
export interface ConfigOverrides {
  port?: number;
  host?: string;
  data_dir?: string;
  public_url?: string;
  log_level?: string;
  database_url?: string;
  /** Where `env:NAME` secrets are read from (the process environment). */
  secrets?: SecretSource;
  /** `PIXELTRAIL_SECRETS_KEY`: encrypts secrets saved through the admin API. */
  secrets_key?: string;
  /** `PIXELTRAIL_SECRETS_KEY_PREVIOUS`: keys being rotated out, comma-separated. */
  secrets_key_previous?: string[];
}
