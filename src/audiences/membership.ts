import { candidateSources } from '../domain/audience-candidates.js';
import {
  type Evaluation,
  evaluate,
  longestWindowS,
  usesTouches,
} from '../domain/audience-rules.js';
import { type TurnGate, turnGate } from '../pacing/turn-gate.js';
import type { MemberKeyType, MembershipRow, PersonIds, PersonRecords } from '../store/store.js';
import type { AudienceServiceDeps, LoadedAudience } from './audience.js';

// Who is in an audience: one person evaluated against the rules and the answer written under
// every id they have; a whole audience recomputed; the rows whose windows may have flipped.

/** Identifiers read per page of a full recompute. */
const RECOMPUTE_PAGE = 500;
/**
 * Identifiers evaluated together: their persons and records are read in a few queries and
 * their answers written in one transaction. Small enough that a page's reads hold a SQLite
 * server's event loop a few milliseconds.
 */
const EVALUATION_PAGE = 100;
/** Due memberships re-evaluated per audience per sweep. */
const SWEEP_BATCH = 2000;

type MembershipDeps = Pick<AudienceServiceDeps, 'store' | 'nowMs' | 'holdouts'>;

const nowS = (deps: MembershipDeps) => Math.floor(deps.nowMs() / 1000);

type IdKey = { key_type: MemberKeyType; key_value: string };
const idOf = (k: IdKey) => `${k.key_type}:${k.key_value}`;
/** What a membership row's `person` says, and what the size counts once. */
const personKey = (who: PersonIds) =>
  who.user_id ? `u:${who.user_id}` : `a:${who.anonymous_ids[0]}`;

/** The answer for one person, written under every id they have, and whether to keep it. */
function membershipRows(
  who: PersonIds,
  result: Evaluation,
  history: PersonRecords,
): { rows: MembershipRow[]; keep: boolean } {
  const latest = [...history.events].sort((x, y) => y.time - x.time);
  const email = latest.find((e) => e.email_sha256)?.email_sha256 ?? null;
  const phone = latest.find((e) => e.phone_sha256)?.phone_sha256 ?? null;
  const phoneE164 = latest.find((e) => e.phone_e164_sha256)?.phone_e164_sha256 ?? null;
  const person = personKey(who);
  const row = (kt: MemberKeyType, kv: string): MembershipRow => ({
    key_type: kt,
    key_value: kv,
    person,
    member: result.member,
    changes_at: result.changes_at,
    email_sha256: email,
    phone_sha256: phone,
    phone_e164_sha256: phoneE164,
  });
  const rows = who.anonymous_ids.map((id) => row('anonymous_id', id));
  if (who.user_id) rows.push(row('user_id', who.user_id));
  // A "no" that only new data can change is what a missing row says: keep the table to
  // members and people whose answer flips with time, not every browser ever seen.
  return { rows, keep: result.member || result.changes_at !== null };
}

/**
 * Evaluates the person behind one identifier and writes the answer under every id of
 * that person, so a lookup by any of them is one row.
 */
export async function evaluateKey(
  deps: MembershipDeps,
  a: LoadedAudience,
  key_type: MemberKeyType,
  key_value: string,
) {
  const { store } = deps;
  const env_id = a.record.env_id;
  const who = await store.personOf(env_id, key_type, key_value);
  const now = nowS(deps);
  const history = await store.personRecords(env_id, who, now - longestWindowS(a.rules), {
    touches: usesTouches(a.rules),
  });
  const result = evaluate(a.rules, history, now);
  const { rows, keep } = membershipRows(who, result, history);
  if (keep) await store.upsertMemberships(env_id, a.record.id, rows, deps.nowMs());
  else await store.deleteMemberships(env_id, a.record.id, rows);
  // A member enters the audience's holdout test now (the first entry stays).
  if (result.member) await deps.holdouts?.enterAudience(env_id, a.record.id, who);
  return { rows, member: result.member };
}

/**
 * Evaluates the persons behind a page of identifiers not yet in `done` (a person's answer is
 * written under all their ids, which then go into `done`): a few reads for the page, one
 * transaction for its answers, letting the event loop turn at `gate` between them.
 */
async function evaluatePage(
  deps: MembershipDeps,
  a: LoadedAudience,
  keys: readonly IdKey[],
  done: Set<string>,
  gate: TurnGate,
): Promise<void> {
  const { store } = deps;
  const env_id = a.record.env_id;
  const todo = keys.filter((k) => !done.has(idOf(k)));
  if (todo.length === 0) return;
  // A browser shared by several users (a family's computer) belongs to its latest user, but
  // each of them has its records: every user seen with a browser of the page is evaluated too.
  const listed = new Set(todo.map(idOf));
  const sharers = (
    await store.usersOf(
      env_id,
      todo.filter((k) => k.key_type === 'anonymous_id').map((k) => k.key_value),
    )
  )
    .map((u) => ({ key_type: 'user_id' as const, key_value: u }))
    .filter((k) => !listed.has(idOf(k)) && !done.has(idOf(k)));
  const resolving = [...todo, ...sharers];
  const persons = new Map<string, PersonIds>();
  /** The person each identifier resolves to (personOf): whose answer a lookup by it gets. */
  const owner = new Map<string, string>();
  (await store.personsOf(env_id, resolving)).forEach((who, i) => {
    const person = personKey(who);
    const had = persons.get(person);
    // Two ids of one user may each bring a browser id past its latest 50: keep both.
    persons.set(
      person,
      had
        ? { ...had, anonymous_ids: [...new Set([...had.anonymous_ids, ...who.anonymous_ids])] }
        : who,
    );
    owner.set(idOf(resolving[i] as IdKey), person);
  });
  const people = [...persons.values()];
  const now = nowS(deps);
  await gate();
  // Rules that name no touch are answered from events alone: a person's ad touches were the
  // largest read of an audience (2.9 s of 7.1 s for two audiences of the demo store).
  const histories = await store.peopleRecords(env_id, people, now - longestWindowS(a.rules), {
    touches: usesTouches(a.rules),
  });
  // One answer per identifier: a browser id in two persons' rows carries its own person's.
  const answers = new Map<string, { row: MembershipRow; keep: boolean }>();
  const members: PersonIds[] = [];
  people.forEach((who, i) => {
    const history = histories[i] as PersonRecords;
    const result = evaluate(a.rules, history, now);
    const { rows, keep } = membershipRows(who, result, history);
    const person = personKey(who);
    for (const row of rows) {
      const id = idOf(row);
      if (!answers.has(id) || owner.get(id) === person) answers.set(id, { row, keep });
      done.add(id);
    }
    if (result.member) members.push(who);
  });
  const upsert = [...answers.values()].filter((x) => x.keep).map((x) => x.row);
  const remove = [...answers.values()].filter((x) => !x.keep).map((x) => x.row);
  await gate();
  await store.writeMemberships(env_id, a.record.id, upsert, remove, deps.nowMs());
  // Members enter the audience's holdout test now (the first entry stays).
  if (deps.holdouts)
    for (const who of members) await deps.holdouts.enterAudience(env_id, a.record.id, who);
}

/** Evaluates `keys` a page at a time, letting the event loop turn at `gate` between pages. */
async function evaluateEach(
  deps: MembershipDeps,
  a: LoadedAudience,
  keys: readonly IdKey[],
  done: Set<string>,
  gate: TurnGate,
): Promise<void> {
  for (let i = 0; i < keys.length; i += EVALUATION_PAGE) {
    await gate();
    await evaluatePage(deps, a, keys.slice(i, i + EVALUATION_PAGE), done, gate);
  }
}

/** Evaluates the persons behind these identifiers (those whose events or touches just came). */
export function evaluateKeys(
  deps: MembershipDeps,
  a: LoadedAudience,
  keys: readonly IdKey[],
  gate: TurnGate = turnGate(),
): Promise<void> {
  return evaluateEach(deps, a, keys, new Set<string>(), gate);
}

/** Re-evaluates the memberships whose windows may have flipped by now. */
export async function sweepAudience(
  deps: MembershipDeps,
  a: LoadedAudience,
  gate: TurnGate = turnGate(),
): Promise<void> {
  for (;;) {
    const due = await deps.store.membershipsDue(
      a.record.env_id,
      a.record.id,
      nowS(deps),
      SWEEP_BATCH,
    );
    if (due.length === 0) return;
    await evaluateEach(deps, a, due, new Set<string>(), gate);
    if (due.length < SWEEP_BATCH) return;
  }
}

/** Evaluates everyone with data inside the audience's window, then the due rows. */
export async function recomputeMembers(deps: MembershipDeps, a: LoadedAudience): Promise<void> {
  const { store } = deps;
  const since = nowS(deps) - longestWindowS(a.rules);
  // Only people with a record some member needs (domain/audience-candidates.ts).
  const sources = candidateSources(a.rules);
  const only = sources === 'everyone' ? null : sources;
  const done = new Set<string>();
  const gate = turnGate();
  let after: { key_type: MemberKeyType; key_value: string } | null = null;
  for (;;) {
    const page = await store.identifiersSince(a.record.env_id, since, after, RECOMPUTE_PAGE, only);
    if (page.length === 0) break;
    await evaluateEach(deps, a, page, done, gate);
    after = page[page.length - 1];
  }
  // Members whose data is all older than the window were not listed above.
  await sweepAudience(deps, a, gate);
  await store.markAudienceRecomputed(a.record.env_id, a.record.id, deps.nowMs());
}
