import { firstEntry, type Holdout } from '../domain/holdout.js';
import {
  type LiftConversion,
  type LiftEntry,
  type LiftReport,
  liftReport,
} from '../domain/lift-report.js';
import type { Store, UserLink } from '../store/store.js';

/**
 * The user each browser belongs to: the one it was last seen with, as the audiences' person
 * lookup decides (a shared computer's browser is its latest user's).
 */
function browserUsers(links: readonly UserLink[]): Map<string, UserLink> {
  const owner = new Map<string, UserLink>();
  for (const l of links) {
    const o = owner.get(l.anonymous_id);
    if (!o || l.last_seen > o.last_seen || (l.last_seen === o.last_seen && l.user_id < o.user_id))
      owner.set(l.anonymous_id, l);
  }
  return owner;
}

/**
 * The lift report of a holdout over [from_s, to_s), read from the store: the entries of the
 * range, every user id and browser id of those people (identity links), and their
 * conversion events, read by those ids on their indexes. Linear in the people and their
 * events; the environment's other traffic is never read.
 *
 * One person is counted once: entries under a user id and under the browsers that user
 * logged in on (entered apart before the login linked them, or before keys were made
 * stable) are one person, whose key is the first they entered under (`firstEntry`, as the
 * holdout service assigns), and all of whose ids bring their events.
 */
export async function runLiftReport(
  store: Pick<Store, 'holdoutEntries' | 'userLinks' | 'liftEvents'>,
  h: Holdout,
  from_s: number,
  to_s: number,
  precision: number,
): Promise<LiftReport & { entries: number }> {
  const entries = await store.holdoutEntries(h.id, from_s, to_s);
  const users = new Set<string>();
  const browsers = new Set<string>();
  for (const e of entries) (e.person.startsWith('u:') ? users : browsers).add(e.person.slice(2));
  const links = await store.userLinks(h.env_id, [...users], [...browsers]);
  const owner = browserUsers(links);
  // A person is their user id when one is known, else their browser id.
  const personOfKey = (key: string) =>
    key.startsWith('u:')
      ? key
      : owner.has(key.slice(2))
        ? `u:${owner.get(key.slice(2))?.user_id}`
        : key;
  const byPerson = new Map<string, LiftEntry[]>();
  for (const e of entries) {
    const p = personOfKey(e.person);
    byPerson.set(p, [...(byPerson.get(p) ?? []), e]);
  }
  // Each person's entries under their first key: liftReport counts them once, in the group
  // of that key, and not at all if another of their keys entered on the other side.
  const stable = new Map<string, string>();
  const merged: LiftEntry[] = [];
  for (const [p, es] of byPerson) {
    const first = firstEntry(es) as LiftEntry;
    stable.set(p, first.person);
    for (const e of es) merged.push({ ...e, person: first.person, key: e.person });
  }
  // Every id of a person brings their events: their user id and each browser it was seen on.
  const byUser = new Map<string, string>();
  const byBrowser = new Map<string, string>();
  for (const [p, key] of stable) {
    if (p.startsWith('u:')) byUser.set(p.slice(2), key);
    else byBrowser.set(p.slice(2), key);
  }
  for (const l of links) {
    const key = stable.get(`u:${l.user_id}`);
    if (key && owner.get(l.anonymous_id)?.user_id === l.user_id) byBrowser.set(l.anonymous_id, key);
  }
  const events = await store.liftEvents(h.env_id, h.conversion_events, from_s, to_s, {
    user_ids: [...byUser.keys()],
    anonymous_ids: [...byBrowser.keys()],
  });
  const conversions: LiftConversion[] = [];
  for (const ev of events) {
    const person =
      (ev.user_id !== null ? byUser.get(ev.user_id) : undefined) ??
      (ev.anonymous_id !== null ? byBrowser.get(ev.anonymous_id) : undefined);
    if (person) conversions.push({ person, time: ev.time, value: ev.value, currency: ev.currency });
  }
  const report = liftReport({
    holdout: h,
    entries: merged,
    conversions,
    from: from_s,
    to: to_s,
    precision,
  });
  return { entries: entries.length, ...report };
}
