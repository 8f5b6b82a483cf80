import type { Holdout } from '../domain/holdout.js';
import { type LiftConversion, type LiftReport, liftReport } from '../domain/lift-report.js';
import type { Store } from '../store/store.js';

/**
 * The lift report of a holdout over [from_s, to_s), read from the store: the entries of the
 * range, every user id and browser id of those people (identity links), and their
 * conversion events, read by those ids on their indexes. Linear in the people and their
 * events; the environment's other traffic is never read.
 */
export async function runLiftReport(
  store: Pick<Store, 'holdoutEntries' | 'userLinks' | 'liftEvents'>,
  h: Holdout,
  from_s: number,
  to_s: number,
  precision: number,
): Promise<LiftReport & { entries: number }> {
  const entries = await store.holdoutEntries(h.id, from_s, to_s);
  const byUser = new Map<string, string>();
  const byBrowser = new Map<string, string>();
  for (const e of entries) {
    if (e.person.startsWith('u:')) byUser.set(e.person.slice(2), e.person);
    else byBrowser.set(e.person.slice(2), e.person);
  }
  const links = await store.userLinks(h.env_id, [...byUser.keys()], [...byBrowser.keys()]);
  // A user's browsers are that user's; a browser that entered alone and logged in later
  // brings its user id's events. An id that entered on its own keeps its own entry.
  for (const l of links) {
    const user = byUser.get(l.user_id);
    const browser = byBrowser.get(l.anonymous_id);
    if (user && !browser) byBrowser.set(l.anonymous_id, user);
    else if (browser && !user) byUser.set(l.user_id, browser);
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
    entries,
    conversions,
    from: from_s,
    to: to_s,
    precision,
  });
  return { entries: entries.length, ...report };
}
