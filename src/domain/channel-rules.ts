import { globMatcher } from './glob-match.js';
import { SOURCE_CATEGORIES, type SourceCategory } from './source-categories.js';

/**
 * Channels (issue 23): an ordered rule set turns a touch's source, medium, campaign and kind
 * of site into a channel; the first rule that holds names it, none gives `Unassigned`. The
 * defaults are GA4's default channel group, in its order
 * (https://support.google.com/analytics/answer/9756891). GA4 writes its conditions as
 * regular expressions; here they are `*` globs, case-insensitive and matched in linear time
 * (glob-match.ts), since an environment's own rules come from its admins.
 */

/** The kinds of touch a rule may name. */
export const CHANNEL_TOUCH_KINDS = ['impression', 'click', 'visit'] as const;
export type ChannelTouchKind = (typeof CHANNEL_TOUCH_KINDS)[number];

/** Conditions on one touch; every field given must hold. Globs: `*` any characters. */
export interface ChannelCondition {
  source?: string[];
  medium?: string[];
  campaign?: string[];
  source_category?: SourceCategory[];
  /** The ad click id parameter on the landing (`gclid`); `*` for any. */
  click_id?: string[];
  touch?: ChannelTouchKind[];
}

/** One rule: its own conditions, and (when given) at least one of `any`. */
export interface ChannelRule extends ChannelCondition {
  channel: string;
  any?: ChannelCondition[];
}

/** An environment's channel settings (config file `channels:`, or the admin API). */
export interface ChannelSettings {
  rules: ChannelRule[];
  /**
   * Referrers that are not where a visit came from (payment pages returning to the shop, a
   * login provider): GA4's "unwanted referrals". A visit known only by such a referrer is
   * left off conversion paths.
   */
  ignored_referrers: string[];
}

/** What the rules read of a touch. */
export interface ChannelFacts {
  touch: ChannelTouchKind;
  source: string;
  medium: string;
  campaign: string | null;
  source_category: SourceCategory | null;
  click_id: string | null;
}

/** The channel of a touch no rule names. */
export const UNASSIGNED = 'Unassigned';
/** The channel of a conversion with no touch on its path (GA4's Direct). */
export const DIRECT = 'Direct';

export const MAX_CHANNEL_RULES = 100;
const MAX_PATTERNS = 50;
const MAX_TEXT_CHARS = 256;

const PAID = ['*cp*', 'ppc', 'retargeting', 'paid*'];
/** GA4's `^(.*(([^a-df-z]|^)shop|shopping).*)$`: "shop" at the start of a word, or shopping. */
const SHOP_CAMPAIGN = [
  'shop*',
  '*shopping*',
  '*eshop*',
  '*-shop*',
  '*_shop*',
  '* shop*',
  '*.shop*',
];
const EMAIL = ['email', 'e-mail', 'e_mail', 'e mail'];

/** GA4's default channel group for manual traffic, in GA4's order. */
export const DEFAULT_CHANNEL_RULES: readonly ChannelRule[] = [
  { channel: DIRECT, source: ['(direct)', 'direct'], medium: ['(none)', '(not set)'] },
  { channel: 'Cross-network', campaign: ['*cross-network*'] },
  {
    channel: 'Paid Shopping',
    medium: PAID,
    any: [{ source_category: ['shopping'] }, { campaign: SHOP_CAMPAIGN }],
  },
  { channel: 'Paid Search', source_category: ['search'], medium: PAID },
  { channel: 'Paid Social', source_category: ['social'], medium: PAID },
  { channel: 'Paid Video', source_category: ['video'], medium: PAID },
  { channel: 'Display', medium: ['display', 'banner', 'expandable', 'interstitial', 'cpm'] },
  { channel: 'Paid Other', medium: PAID },
  {
    channel: 'Organic Shopping',
    any: [{ source_category: ['shopping'] }, { campaign: SHOP_CAMPAIGN }],
  },
  {
    channel: 'Organic Social',
    any: [
      { source_category: ['social'] },
      {
        medium: [
          'social',
          'social-network',
          'social-media',
          'sm',
          'social network',
          'social media',
        ],
      },
    ],
  },
  {
    channel: 'Organic Video',
    any: [{ source_category: ['video'] }, { medium: ['*video*'] }],
  },
  {
    channel: 'Organic Search',
    any: [{ source_category: ['search'] }, { medium: ['organic'] }],
  },
  { channel: 'Email', any: [{ source: EMAIL }, { medium: EMAIL }] },
  { channel: 'Affiliates', medium: ['affiliate', 'affiliates'] },
  { channel: 'Referral', medium: ['referral', 'app', 'link'] },
  { channel: 'Audio', medium: ['audio'] },
  { channel: 'SMS', any: [{ source: ['sms'] }, { medium: ['sms'] }] },
  {
    channel: 'Mobile Push Notifications',
    any: [{ medium: ['*push', '*mobile*', '*notification*'] }],
  },
];

/** Payment and login pages that send a buyer back to the shop: not a source of the visit. */
export const DEFAULT_IGNORED_REFERRERS: readonly string[] = [
  'paypal.com',
  'checkout.stripe.com',
  'klarna.com',
  'adyen.com',
  'mollie.com',
  'accounts.google.com',
];

export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = {
  rules: [...DEFAULT_CHANNEL_RULES],
  ignored_referrers: [...DEFAULT_IGNORED_REFERRERS],
};

type Test = (f: ChannelFacts) => boolean;

function globsTest(patterns: readonly string[], pick: (f: ChannelFacts) => string | null): Test {
  const matchers = patterns.map((p) => globMatcher(p.toLowerCase(), { anyChar: false }));
  return (f) => {
    const v = pick(f);
    if (v === null) return false;
    const text = v.toLowerCase();
    return matchers.some((m) => m(text));
  };
}

function conditionTest(c: ChannelCondition): Test {
  const tests: Test[] = [];
  if (c.source) tests.push(globsTest(c.source, (f) => f.source));
  if (c.medium) tests.push(globsTest(c.medium, (f) => f.medium));
  if (c.campaign) tests.push(globsTest(c.campaign, (f) => f.campaign));
  if (c.click_id) tests.push(globsTest(c.click_id, (f) => f.click_id));
  if (c.source_category) {
    const set = new Set<string>(c.source_category);
    tests.push((f) => f.source_category !== null && set.has(f.source_category));
  }
  if (c.touch) {
    const set = new Set<string>(c.touch);
    tests.push((f) => set.has(f.touch));
  }
  return (f) => tests.every((t) => t(f));
}

/** Rules made ready to apply: each condition's globs compiled once. */
export class ChannelClassifier {
  private readonly tests: Array<{ channel: string; test: Test }>;

  constructor(rules: readonly ChannelRule[]) {
    this.tests = rules.map((r) => {
      const own = conditionTest(r);
      const any = r.any?.map(conditionTest);
      return {
        channel: r.channel,
        test: (f: ChannelFacts) => own(f) && (!any || any.length === 0 || any.some((t) => t(f))),
      };
    });
  }

  /**
   * Channels already found, by the facts that decided them. A report asks for every touch of
   * its range (300,000 non-converting ones, and each path's), which share a few hundred facts
   * between them: the rules' globs and lower-casing cost several µs a touch, a lookup well
   * under one. Bounded: emptied when full.
   */
  private readonly known = new Map<string, string>();

  /** How many facts' channels are remembered (at most MAX_KNOWN_FACTS). */
  get remembered(): number {
    return this.known.size;
  }

  /** The channel of a touch: the first rule that holds, else Unassigned. */
  channelOf(f: ChannelFacts): string {
    const key = factsKey(f);
    let channel = this.known.get(key);
    if (channel === undefined) {
      channel = this.tests.find((t) => t.test(f))?.channel ?? UNASSIGNED;
      if (this.known.size >= MAX_KNOWN_FACTS) this.known.clear();
      this.known.set(key, channel);
    }
    return channel;
  }
}

/** One text per distinct facts: each text prefixed with its length (null: -1), so no two collide. */
const part = (v: string | null) => (v === null ? '-1:' : `${v.length}:${v}`);
const factsKey = (f: ChannelFacts) =>
  `${f.touch}${part(f.source)}${part(f.medium)}${part(f.campaign)}${part(f.source_category)}${part(f.click_id)}`;

/** Most facts a classifier remembers the channel of (ChannelClassifier.known). */
export const MAX_KNOWN_FACTS = 10_000;

/** A problem with one field of channel settings. */
export interface ChannelFieldError {
  field: string;
  message: string;
}

const CONDITION_KEYS = ['source', 'medium', 'campaign', 'source_category', 'click_id', 'touch'];

function textList(
  v: unknown,
  path: string,
  errors: ChannelFieldError[],
  allowed?: readonly string[],
): string[] | undefined {
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_PATTERNS) {
    errors.push({ field: path, message: `must be a text or a list of 1-${MAX_PATTERNS} texts` });
    return undefined;
  }
  const out: string[] = [];
  list.forEach((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > MAX_TEXT_CHARS)
      errors.push({ field: `${path}[${i}]`, message: `must be 1-${MAX_TEXT_CHARS} characters` });
    else if (allowed && !allowed.includes(x))
      errors.push({ field: `${path}[${i}]`, message: `must be one of ${allowed.join(', ')}` });
    else out.push(x);
  });
  return out;
}

function parseCondition(
  raw: unknown,
  path: string,
  errors: ChannelFieldError[],
  extra: readonly string[] = [],
): ChannelCondition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push({ field: path, message: 'must be an object' });
    return {};
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!CONDITION_KEYS.includes(k) && !extra.includes(k))
      errors.push({
        field: `${path}.${k}`,
        message: `is not a condition (use ${CONDITION_KEYS.join(', ')}, any)`,
      });
  const c: ChannelCondition = {};
  const set = <K extends keyof ChannelCondition>(k: K, v: ChannelCondition[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  set('source', textList(o.source, `${path}.source`, errors));
  set('medium', textList(o.medium, `${path}.medium`, errors));
  set('campaign', textList(o.campaign, `${path}.campaign`, errors));
  set('click_id', textList(o.click_id, `${path}.click_id`, errors));
  set(
    'source_category',
    textList(o.source_category, `${path}.source_category`, errors, SOURCE_CATEGORIES) as
      | SourceCategory[]
      | undefined,
  );
  set(
    'touch',
    textList(o.touch, `${path}.touch`, errors, CHANNEL_TOUCH_KINDS) as
      | ChannelTouchKind[]
      | undefined,
  );
  return c;
}

/** Reads channel rules (config file or admin API), naming each bad field under `path`. */
export function parseChannelRules(
  raw: unknown,
  path: string,
  errors: ChannelFieldError[],
): ChannelRule[] {
  if (!Array.isArray(raw) || raw.length > MAX_CHANNEL_RULES) {
    errors.push({ field: path, message: `must be a list of at most ${MAX_CHANNEL_RULES} rules` });
    return [];
  }
  return raw.map((r, i) => {
    const at = `${path}[${i}]`;
    const c = parseCondition(r, at, errors, ['channel', 'any']);
    const o = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    const channel = typeof o.channel === 'string' ? o.channel.trim() : '';
    if (channel === '' || channel.length > 100)
      errors.push({ field: `${at}.channel`, message: 'must name the channel (1-100 characters)' });
    const rule: ChannelRule = { channel, ...c };
    if (o.any !== undefined) {
      if (!Array.isArray(o.any) || o.any.length === 0 || o.any.length > MAX_PATTERNS)
        errors.push({
          field: `${at}.any`,
          message: `must be a list of 1-${MAX_PATTERNS} conditions`,
        });
      else rule.any = o.any.map((x, j) => parseCondition(x, `${at}.any[${j}]`, errors));
    }
    return rule;
  });
}

/** Reads `{rules?, ignored_referrers?}`; what is left out keeps its default. */
export function parseChannelSettings(
  raw: unknown,
  path: string,
  errors: ChannelFieldError[],
): ChannelSettings {
  if (raw === undefined || raw === null) return DEFAULT_CHANNEL_SETTINGS;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    errors.push({ field: path, message: 'must be {rules: [...], ignored_referrers: [...]}' });
    return DEFAULT_CHANNEL_SETTINGS;
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'rules' && k !== 'ignored_referrers')
      errors.push({
        field: `${path}.${k}`,
        message: 'is not a setting (rules, ignored_referrers)',
      });
  const rules =
    o.rules === undefined
      ? [...DEFAULT_CHANNEL_RULES]
      : parseChannelRules(o.rules, `${path}.rules`, errors);
  const ignored =
    o.ignored_referrers === undefined
      ? [...DEFAULT_IGNORED_REFERRERS]
      : Array.isArray(o.ignored_referrers) && o.ignored_referrers.length === 0
        ? []
        : (textList(o.ignored_referrers, `${path}.ignored_referrers`, errors) ?? []);
  return { rules, ignored_referrers: ignored.map((h) => h.toLowerCase()) };
}
