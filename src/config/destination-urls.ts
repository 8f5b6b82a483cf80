import type { DestinationConfig } from '../domain/config-types.js';

const HTTP_URL_RE = /^https?:\/\//i;

/** One address a destination sends to, with the admin API field it is set by. */
export interface DestinationUrl {
  field: string;
  url: string;
}

/** The URLs a destination sends to: `base_url`, and every setting that holds an http(s) URL. */
export function destinationUrls(d: DestinationConfig): DestinationUrl[] {
  const out: DestinationUrl[] = d.base_url ? [{ field: 'base_url', url: d.base_url }] : [];
  for (const [k, v] of Object.entries(d.settings))
    if (typeof v === 'string' && HTTP_URL_RE.test(v)) out.push({ field: `settings.${k}`, url: v });
  return out;
}

/**
 * The URLs of `d` that the config file's definition of it (`file`) does not name: an edit
 * through the admin API that keeps the file's addresses aims nowhere new, and stays the
 * operator's own.
 */
export function urlsNotInFile(
  d: DestinationConfig,
  file: DestinationConfig | undefined,
): DestinationUrl[] {
  const known = new Set(file ? destinationUrls(file).map((u) => `${u.field} ${u.url}`) : []);
  return destinationUrls(d).filter((u) => !known.has(`${u.field} ${u.url}`));
}
