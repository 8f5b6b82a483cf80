import { createHash } from 'node:crypto';
import type { SourceCategories, SourceCategory } from './source-categories.js';

/**
 * Where a visit came from, read from its landing (issue 23): the UTM parameters (stated by
 * the sender, among the properties, or on the landing URL), the ad platform's click id on the
 * landing URL, and the external referrer. Source and medium follow GA4's conventions so its
 * channel rules apply unchanged (https://support.google.com/analytics/answer/9756891):
 * `google / cpc` for a Google Ads click id, `google / organic` for Google's results page,
 * `facebook / social`, `example.org / referral`.
 *
 * Every field is read in time linear in its length: the query is split once, only the names
 * below are decoded, hosts are cut at the first `/ ? #`. Values are kept to
 * MAX_SOURCE_FIELD_CHARS.
 */
export interface TrafficSource {
  source: string;
  medium: string;
  /** What named the source: the UTM fields, an ad click id, or the referrer alone. */
  by: 'utm' | 'click_id' | 'referrer';
  /** utm_campaign: the campaign's name. */
  campaign?: string;
  term?: string;
  content?: string;
  /** utm_id: the campaign's id, what imported costs are keyed by. */
  id?: string;
  /** The ad platform's click id parameter on the landing URL (`gclid`), name only. */
  click_id_param?: string;
  /** The external referrer's host (`www.google.com`); none when the referrer was the site. */
  referrer_host?: string;
  /** Kind of site the source is, from the list of known sites. */
  source_category?: SourceCategory;
  /**
   * The landing came through our own click link (`/c` put its click id on the URL): the click
   * touch stands for this visit, so no visit touch is made of it.
   */
  via_click_link?: true;
}

/** Longest value kept of a UTM parameter or a host. */
export const MAX_SOURCE_FIELD_CHARS = 256;

/** UTM parameters as Google Analytics reads them (https://support.google.com/analytics/answer/10917952). */
const UTM_PARAMS = {
  utm_source: 'source',
  utm_medium: 'medium',
  utm_campaign: 'campaign',
  utm_term: 'term',
  utm_content: 'content',
  utm_id: 'id',
} as const;
type UtmField = (typeof UTM_PARAMS)[keyof typeof UTM_PARAMS];
const UTM_FIELDS = Object.values(UTM_PARAMS);
const UTM_ENTRIES = Object.entries(UTM_PARAMS) as Array<[string, UtmField]>;

/**
 * Ad platforms' auto-tagging click ids → the source and medium their click means. `fbclid` is
 * not among the paid ones: Meta appends it to every outbound link, organic posts included, so
 * it only says the visit came from Facebook or Instagram (GA4 files those as Organic Social
 * too); tag Meta ads with utm_medium=paid_social (or cpc) to count them as paid.
 */
export const AD_CLICK_IDS: Readonly<Record<string, { source: string; medium: string }>> = {
  gclid: { source: 'google', medium: 'cpc' },
  gbraid: { source: 'google', medium: 'cpc' },
  wbraid: { source: 'google', medium: 'cpc' },
  dclid: { source: 'google', medium: 'display' },
  msclkid: { source: 'bing', medium: 'cpc' },
  ttclid: { source: 'tiktok', medium: 'cpc' },
  li_fat_id: { source: 'linkedin', medium: 'cpc' },
  twclid: { source: 'twitter', medium: 'cpc' },
  ScCid: { source: 'snapchat', medium: 'cpc' },
  epik: { source: 'pinterest', medium: 'cpc' },
  rdt_cid: { source: 'reddit', medium: 'cpc' },
  yclid: { source: 'yandex', medium: 'cpc' },
  fbclid: { source: 'facebook', medium: 'social' },
};

/** A sender's own campaign fields (Segment's `context.campaign`, an event's `campaign`). */
export type StatedCampaign = Partial<Record<UtmField, string>>;

/** What a landing is read from. */
export interface LandingInput {
  stated?: StatedCampaign;
  /** The event's properties: `utm_source`… there too (the event pixel `/p` puts them there). */
  properties?: Readonly<Record<string, unknown>>;
  /** The landing page's URL. */
  url?: string;
  referrer?: string;
}

/** What a landing is read against. */
export interface LandingContext {
  sources: SourceCategories;
  /** Hosts of the site itself (allowed origins, click URL hosts): a referrer there is internal. */
  siteHosts: readonly string[];
  /** The parameter our click links put their click id in (`pt_click_id`). */
  clickIdParam: string;
}

const cap = (s: string) => s.slice(0, MAX_SOURCE_FIELD_CHARS);

function decoded(raw: string): string {
  const text =
    raw.length > MAX_SOURCE_FIELD_CHARS * 3 ? raw.slice(0, MAX_SOURCE_FIELD_CHARS * 3) : raw;
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The values of the wanted parameters of a URL's query (first of each), read in one pass. */
export function queryParams(url: string, wanted: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  const q = url.indexOf('?');
  if (q < 0) return out;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    // `=` is looked for inside this pair only: a search to the end of the query for every
    // pair without one would make a query of `a&a&a…` quadratic.
    const pair = query.slice(start, end);
    const eq = pair.indexOf('=');
    const nameLength = eq >= 0 ? eq : pair.length;
    // Names are short: anything longer than the longest wanted is not one of them.
    if (nameLength <= 32) {
      const name = decoded(pair.slice(0, nameLength));
      if (wanted.has(name) && !out.has(name)) {
        const value = eq >= 0 ? cap(decoded(pair.slice(eq + 1)).trim()) : '';
        if (value !== '') out.set(name, value);
      }
    }
    start = end + 1;
  }
  return out;
}

/** The host of an absolute URL (`https://user@Shop.Example:443/x` → `shop.example`), or ''. */
export function hostOf(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme <= 0 || scheme > 32) return '';
  let end = scheme + 3;
  while (end < url.length && end - scheme <= MAX_SOURCE_FIELD_CHARS + 3) {
    const c = url.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    end++;
  }
  let host = url.slice(scheme + 3, end);
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1).toLowerCase();
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host.toLowerCase().replace(/\.$/, '');
}

/** The path of an absolute URL, up to its query (only its first characters are read). */
function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme <= 0) return '';
  const piece = url.slice(scheme + 3, scheme + 3 + MAX_SOURCE_FIELD_CHARS * 2);
  const stop = piece.search(/[/?#]/);
  if (stop < 0 || piece[stop] !== '/') return '';
  const path = piece.slice(stop);
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

const www = (h: string) => (h.startsWith('www.') ? h.slice(4) : h);

/** Whether `host` is `site` or one of its subdomains (`www.` ignored on both). */
export function withinSite(host: string, site: string): boolean {
  const x = www(host);
  const y = www(site);
  return x === y || x.endsWith(`.${y}`);
}

/** Whether two hosts are one site: equal, or one a subdomain of the other (`www.` ignored). */
export function sameSite(a: string, b: string): boolean {
  const x = www(a);
  const y = www(b);
  return x === y || x.endsWith(`.${y}`) || y.endsWith(`.${x}`);
}

const WANTED = new Set<string>([...Object.keys(UTM_PARAMS), ...Object.keys(AD_CLICK_IDS)]);
const wantedSets = new Map<string, ReadonlySet<string>>();

/** The parameter names read from a landing URL, with the environment's own click id's. */
function wantedWith(clickIdParam: string): ReadonlySet<string> {
  let set = wantedSets.get(clickIdParam);
  if (!set) {
    set = new Set([...WANTED, clickIdParam]);
    wantedSets.set(clickIdParam, set);
  }
  return set;
}

/** True when the stated campaign or the properties may hold a UTM field (utmFields reads them). */
function mayStateUtm(input: LandingInput): boolean {
  for (const [param, field] of UTM_ENTRIES)
    if (input.stated?.[field] !== undefined || typeof input.properties?.[param] === 'string')
      return true;
  return false;
}

/** The UTM fields of the stated campaign, then the properties, then the URL: first wins. */
function utmFields(input: LandingInput, fromUrl: Map<string, string>): StatedCampaign {
  const out: StatedCampaign = {};
  for (const [param, field] of UTM_ENTRIES) {
    const prop = input.properties?.[param];
    const v =
      input.stated?.[field] ?? (typeof prop === 'string' ? prop : undefined) ?? fromUrl.get(param);
    const t = v === undefined ? '' : cap(v.trim());
    if (t !== '') out[field] = t;
  }
  return out;
}

/**
 * Where a landing came from, or undefined when nothing says: no UTM field, no ad click id,
 * no external referrer (a direct visit, or a page after the first). UTM parameters win over a
 * click id (they are what the advertiser wrote), a click id over the referrer.
 */
export function readTrafficSource(
  input: LandingInput,
  ctx: LandingContext,
): TrafficSource | undefined {
  // Most events carry no URL, referrer or UTM field: nothing below could say anything, and
  // its maps and lists were made for every one of them (issue 22).
  if (!input.url && !input.referrer && !mayStateUtm(input)) return undefined;
  const url = input.url ?? '';
  const params = queryParams(url, wantedWith(ctx.clickIdParam));
  const utm = utmFields(input, params);
  const clickParam = Object.keys(AD_CLICK_IDS).find((p) => params.has(p));
  const landingHost = hostOf(url);
  const refHost = input.referrer ? hostOf(input.referrer) : '';
  // Without the landing's own host a referrer can only be judged by the site's hosts.
  const external =
    refHost !== '' &&
    (landingHost !== '' || ctx.siteHosts.length > 0) &&
    !(landingHost !== '' && sameSite(refHost, landingHost)) &&
    !ctx.siteHosts.some((h) => withinSite(refHost, h));
  const hasUtm = UTM_FIELDS.some((f) => utm[f] !== undefined);
  if (!hasUtm && !clickParam && !external) return undefined;

  const known = external ? ctx.sources.ofHost(refHost, pathOf(input.referrer ?? '')) : null;
  const click = clickParam ? AD_CLICK_IDS[clickParam] : undefined;
  let source: string;
  let medium: string;
  let by: TrafficSource['by'] = 'utm';
  if (utm.source !== undefined || utm.medium !== undefined) {
    source =
      utm.source ?? click?.source ?? known?.source ?? (external ? www(refHost) : '(not set)');
    medium =
      utm.medium ?? (utm.source === undefined ? (click?.medium ?? '(not set)') : '(not set)');
  } else if (click && !(clickParam === 'fbclid' && known)) {
    source = click.source;
    medium = click.medium;
    by = 'click_id';
  } else if (known) {
    source = known.source;
    medium = refererMedium(known.category, known.paid);
    by = 'referrer';
  } else if (external) {
    source = www(refHost);
    medium = 'referral';
    by = 'referrer';
  } else {
    source = '(not set)';
    medium = '(not set)';
  }
  const category = ctx.sources.ofSource(source)?.category ?? known?.category ?? undefined;
  return {
    source,
    medium,
    by,
    ...(utm.campaign !== undefined ? { campaign: utm.campaign } : {}),
    ...(utm.term !== undefined ? { term: utm.term } : {}),
    ...(utm.content !== undefined ? { content: utm.content } : {}),
    ...(utm.id !== undefined ? { id: utm.id } : {}),
    ...(clickParam ? { click_id_param: clickParam } : {}),
    ...(external ? { referrer_host: refHost } : {}),
    ...(category ? { source_category: category } : {}),
    ...(params.has(ctx.clickIdParam) ? { via_click_link: true as const } : {}),
  };
}

/** The medium GA4 gives a referral from a listed site of this kind. */
function refererMedium(category: SourceCategory | null, paid: boolean): string {
  if (paid) return 'display';
  switch (category) {
    case 'search':
      return 'organic';
    case 'social':
      return 'social';
    case 'email':
      return 'email';
    case 'video':
      return 'video';
    default:
      return 'referral';
  }
}

/**
 * Whether the landing names a campaign: a UTM field or an ad click id on its URL (or stated).
 * Not `by`, which says what named the source: an fbclid landing from a Facebook page, and a
 * UTM landing without utm_source or utm_medium from a known site, are named by the referrer
 * yet are campaign landings all the same.
 */
export function namesCampaign(ts: TrafficSource): boolean {
  // `by` is 'utm' when utm_source or utm_medium named the source (the referrer never fills
  // campaign, term, content or id); they are the UTM fields it may not show.
  return (
    ts.by !== 'referrer' ||
    ts.click_id_param !== undefined ||
    [ts.campaign, ts.term, ts.content, ts.id].some((v) => v !== undefined)
  );
}

/** The campaign a visit counts for in reports and imported costs: its utm_id, else its name. */
export function visitCampaignId(ts: TrafficSource): string | null {
  return ts.id ?? ts.campaign ?? null;
}

/**
 * A visit touch's id: the same person landing from the same source (same UTM fields, click
 * id parameter and referrer) gets the same id, so the copies of one landing — a PageView and
 * an AddToCart on the landing page, the browser's and the server's copy, a reload — collapse
 * into one visit on a conversion path (conversion-path.ts).
 */
export function visitTouchId(env_id: string, person: string, ts: TrafficSource): string {
  const key = JSON.stringify([
    env_id,
    person,
    ts.source,
    ts.medium,
    ts.campaign ?? null,
    ts.term ?? null,
    ts.content ?? null,
    ts.id ?? null,
    ts.click_id_param ?? null,
    ts.referrer_host ?? null,
  ]);
  return `v_${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
}
