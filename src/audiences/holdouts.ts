import { VersionPoller } from '../config/version-poller.js';
import {
  DEFAULT_LIFT_EVENTS,
  firstEntry,
  groupOf,
  type Holdout,
  type HoldoutGroup,
  type HoldoutSubject,
  personKeys,
  withFraction,
} from '../domain/holdout.js';
import type { MemberKeyType, PersonIds, Store } from '../store/store.js';

// Holdouts of audiences and campaigns (issue 23 §3): kept in memory by every process (an
// audience's holdout is asked at every membership evaluation), written through the store,
// and reloaded in other processes when the holdouts' version moves (as audiences are).

export interface HoldoutServiceDeps {
  store: Store;
  nowMs: () => number;
  newId: (prefix: string) => string;
  onError?: (message: string) => void;
}

/** What a new holdout needs; the caller checked that the subject exists. */
export interface HoldoutInput {
  env_id: string;
  name?: string;
  subject_type: HoldoutSubject;
  subject_id: string;
  fraction: number;
  conversion_events?: readonly string[];
}

/** What an edit may change. A new fraction starts now; the ones before stay on record. */
export interface HoldoutPatch {
  name?: string;
  fraction?: number;
  conversion_events?: readonly string[];
}

/** A person's place in a holdout test. */
export interface Assignment {
  holdout_id: string;
  person: string;
  group: HoldoutGroup;
}

export class HoldoutService {
  /** Holdout of each audience asked about so far (null: none). */
  private readonly ofAudiences = new Map<string, Holdout | null>();
  private readonly poller: VersionPoller;

  constructor(private readonly deps: HoldoutServiceDeps) {
    this.poller = new VersionPoller({
      version: () => deps.store.holdoutsVersion(),
      reload: async () => this.ofAudiences.clear(),
      onError: (message) => deps.onError?.(`holdout reload failed: ${message}`),
    });
  }

  start(everyMs?: number): void {
    this.poller.start(everyMs);
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }

  /** Polls the holdouts' version now (tests; the timer does it every 2 s). */
  poll(): Promise<void> {
    return this.poller.poll();
  }

  /**
   * The audience's holdout. `fresh` reads the store, for what must not act on a copy up to
   * one poll old: a sync must never send someone another process has just held out.
   */
  async forAudience(audience_id: string, fresh = false): Promise<Holdout | null> {
    if (!fresh && this.ofAudiences.has(audience_id))
      return this.ofAudiences.get(audience_id) ?? null;
    const a = await this.deps.store.getAudience(audience_id);
    const h = a ? await this.deps.store.holdoutOfSubject(a.env_id, 'audience', audience_id) : null;
    this.ofAudiences.set(audience_id, h);
    return h;
  }

  /**
   * The key a holdout hashes for a person: the one they first entered its test under, found
   * through any of their ids (a browser held out before its login is still held out after it,
   * and enters no second time), else the one they would enter under now (their user id when
   * known, else their browser id). `entered` says which.
   */
  async stableKey(h: Holdout, who: PersonIds): Promise<{ person: string; entered: boolean }> {
    const keys = personKeys(who);
    const first = firstEntry(await this.deps.store.holdoutEntriesOf(h.id, keys));
    return first
      ? { person: first.person, entered: true }
      : { person: keys[0] ?? '', entered: false };
  }

  /**
   * The group of each person of an audience's membership (`u:<user id>` or `a:<browser id>`),
   * by the key they first entered the test under. A user's browsers and a browser's user come
   * from the identity links, their entries from the store: a few reads per 400 people.
   */
  async groupsOf(h: Holdout, persons: readonly string[]): Promise<Map<string, HoldoutGroup>> {
    const users = persons.filter((p) => p.startsWith('u:')).map((p) => p.slice(2));
    const browsers = persons.filter((p) => p.startsWith('a:')).map((p) => p.slice(2));
    const links = await this.deps.store.userLinks(h.env_id, users, browsers);
    const keysOf = new Map<string, string[]>(persons.map((p) => [p, [p]]));
    for (const l of links) {
      keysOf.get(`u:${l.user_id}`)?.push(`a:${l.anonymous_id}`);
      keysOf.get(`a:${l.anonymous_id}`)?.push(`u:${l.user_id}`);
    }
    const entered = await this.deps.store.holdoutEntriesOf(h.id, [...keysOf.values()].flat());
    const at = new Map(entered.map((e) => [e.person, e.entered_at]));
    const out = new Map<string, HoldoutGroup>();
    for (const [p, keys] of keysOf) {
      const first = firstEntry(
        keys.flatMap((k) => (at.has(k) ? [{ person: k, entered_at: at.get(k) as number }] : [])),
      );
      out.set(p, groupOf(h, first?.person ?? p));
    }
    return out;
  }

  /** A person who became a member of an audience enters its holdout test, if it has one. */
  async enterAudience(env_id: string, audience_id: string, who: PersonIds) {
    const h = await this.forAudience(audience_id);
    if (!h) return;
    const { person, entered } = await this.stableKey(h, who);
    if (entered) return;
    const at = Math.floor(this.deps.nowMs() / 1000);
    await this.deps.store.recordHoldoutEntries(env_id, h.id, [person], at);
  }

  /** A new holdout; an audience's current members enter its test now. */
  async create(input: HoldoutInput): Promise<Holdout> {
    const now = this.deps.nowMs();
    const id = this.deps.newId('ho_');
    const h: Holdout = {
      env_id: input.env_id,
      id,
      name: input.name ?? `${input.subject_type} ${input.subject_id}`,
      subject_type: input.subject_type,
      subject_id: input.subject_id,
      salt: id,
      fractions: [{ from_ms: now, fraction: input.fraction }],
      conversion_events: [...(input.conversion_events ?? DEFAULT_LIFT_EVENTS)],
      created_at_ms: now,
      updated_at_ms: now,
    };
    await this.deps.store.createHoldout(h);
    this.forget(h);
    if (h.subject_type === 'audience') {
      const members = await this.deps.store.audienceMembers(h.env_id, h.subject_id);
      await this.deps.store.recordHoldoutEntries(
        h.env_id,
        h.id,
        members.map((m) => m.person),
        Math.floor(now / 1000),
      );
    }
    return h;
  }

  async update(h: Holdout, patch: HoldoutPatch): Promise<Holdout> {
    const now = this.deps.nowMs();
    const next: Holdout = {
      ...h,
      name: patch.name ?? h.name,
      fractions:
        patch.fraction === undefined ? h.fractions : withFraction(h.fractions, patch.fraction, now),
      conversion_events: patch.conversion_events
        ? [...patch.conversion_events]
        : h.conversion_events,
      updated_at_ms: now,
    };
    await this.deps.store.updateHoldout(next);
    this.forget(next);
    return next;
  }

  async remove(h: Holdout): Promise<void> {
    await this.deps.store.deleteHoldout(h.env_id, h.id);
    this.forget(h);
  }

  private forget(h: Holdout): void {
    if (h.subject_type === 'audience') this.ofAudiences.delete(h.subject_id);
  }

  /**
   * Which group someone is in. For a campaign, this is the ad server's question before it
   * serves the campaign (a held-out person gets no ad, or a PSA): the first time a person
   * is asked about is when they enter the test. For an audience, people enter by joining it.
   */
  async assign(h: Holdout, key_type: MemberKeyType, key_value: string): Promise<Assignment> {
    const who = await this.deps.store.personOf(h.env_id, key_type, key_value);
    const { person, entered } = await this.stableKey(h, who);
    if (h.subject_type === 'campaign' && !entered)
      await this.deps.store.recordHoldoutEntries(
        h.env_id,
        h.id,
        [person],
        Math.floor(this.deps.nowMs() / 1000),
      );
    return { holdout_id: h.id, person, group: groupOf(h, person) };
  }
}
