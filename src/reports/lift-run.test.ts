import { describe, expect, it } from 'vitest';
import { groupOf, type Holdout } from '../domain/holdout.js';
import type { LiftEventRow, Store, UserLink } from '../store/store.js';
import { runLiftReport } from './lift-run.js';

const h: Holdout = {
  env_id: 'e',
  id: 'ho_run',
  name: 'run',
  subject_type: 'campaign',
  subject_id: 'c1',
  salt: 'ho_run',
  fractions: [{ from_ms: 0, fraction: 0.5 }],
  conversion_events: ['Purchase'],
  created_at_ms: 0,
  updated_at_ms: 0,
};

/** The three reads of the lift over lists in memory. */
function memory(
  entries: Array<{ person: string; entered_at: number }>,
  links: UserLink[],
  events: LiftEventRow[],
): Pick<Store, 'holdoutEntries' | 'userLinks' | 'liftEvents'> {
  return {
    holdoutEntries: async () => entries,
    userLinks: async (_env, users, browsers) =>
      links.filter((l) => users.includes(l.user_id) || browsers.includes(l.anonymous_id)),
    liftEvents: async (_env, _names, _from, _to, ids) =>
      events.filter(
        (e) =>
          (e.user_id !== null && ids.user_ids.includes(e.user_id)) ||
          (e.anonymous_id !== null && ids.anonymous_ids.includes(e.anonymous_id)),
      ),
  };
}

const buy = (pk: string, user_id: string | null, anonymous_id: string | null): LiftEventRow => ({
  pk,
  time: 50,
  user_id,
  anonymous_id,
  value: 10,
  currency: 'EUR',
});

describe('lift report run', () => {
  const pick = (prefix: string, group: 'exposed' | 'holdout', skip = 0) =>
    Array.from({ length: 100 }, (_, i) => `${prefix}${i}`).filter(
      (k) => groupOf(h, `${prefix.startsWith('b') ? 'a' : 'u'}:${k}`) === group,
    )[skip] as string;

  it('LR03 a browser and the user it logged in as, entered apart, are one person with every event', async () => {
    // Entries of one person under two keys (stored before keys were stable), both held out.
    const browser = pick('b', 'holdout');
    const user = pick('u', 'holdout');
    const store = memory(
      [
        { person: `a:${browser}`, entered_at: 10 },
        { person: `u:${user}`, entered_at: 20 },
      ],
      [
        { user_id: user, anonymous_id: browser, last_seen: 20 },
        // An older link of the browser to someone else: the latest user owns it.
        { user_id: 'someone-else', anonymous_id: browser, last_seen: 5 },
      ],
      [buy('p1', user, null), buy('p2', null, browser), buy('p3', 'someone-else', null)],
    );
    const r = await runLiftReport(store, h, 0, 100, 0.05);
    expect(r.entries).toBe(2);
    expect(r.groups.holdout).toMatchObject({ people: 1, converters: 1, conversions: 2 });
    expect(r.groups.exposed.people).toBe(0);
    expect(r.switched).toBe(0);
  });

  it('LR04 a person whose keys entered on both sides saw both: counted in neither group', async () => {
    const browser = pick('b', 'holdout');
    const user = pick('u', 'exposed');
    const other = pick('b', 'exposed');
    const store = memory(
      [
        { person: `a:${browser}`, entered_at: 10 },
        { person: `u:${user}`, entered_at: 20 },
        { person: `a:${other}`, entered_at: 10 },
      ],
      [{ user_id: user, anonymous_id: browser, last_seen: 20 }],
      [buy('p1', user, null)],
    );
    const r = await runLiftReport(store, h, 0, 100, 0.05);
    expect(r.switched).toBe(1);
    expect(r.groups.holdout.people).toBe(0);
    expect(r.groups.exposed).toMatchObject({ people: 1, conversions: 0 });
  });
});
