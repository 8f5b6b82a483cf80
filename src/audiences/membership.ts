import { candidateSources } from '../domain/audience-candidates.js';
import { type Evaluation, evaluate, longestWindowS } from '../domain/audience-rules.js';
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
  const person = who.user_id ? `u:${who.user_id}` : `a:${who.anonymous_ids[0]}`;
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
  const history = await store.personRecords(env_id, who, now - longestWindowS(a.rules));
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
  keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  done: Set<string>,
  gate: TurnGate,
): Promise<void> {
  const { store } = deps;
  const env_id = a.record.env_id;
  const todo = keys.filter((k) => !done.has(`${k.key_type}:${k.key_value}`));
  if (todo.length === 0) return;
  const persons = new Map<string, PersonIds>();
  for (const who of await store.personsOf(env_id, todo))
    persons.set(who.user_id ? `u:${who.user_id}` : `a:${who.anonymous_ids[0]}`, who);
  const people = [...persons.values()];
  const now = nowS(deps);
  await gate();
  const histories = await store.peopleRecords(env_id, people, now - longestWindowS(a.rules));
  const upsert: MembershipRow[] = [];
  const remove: MembershipRow[] = [];
  const members: PersonIds[] = [];
  people.forEach((who, i) => {
    const history = histories[i] as PersonRecords;
    const result = evaluate(a.rules, history, now);
    const { rows, keep } = membershipRows(who, result, history);
    (keep ? upsert : remove).push(...rows);
    if (result.member) members.push(who);
    for (const r of rows) done.add(`${r.key_type}:${r.key_value}`);
  });
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
  keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
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
  keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
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
