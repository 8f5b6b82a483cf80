import { evaluate, longestWindowS } from '../domain/audience-rules.js';
import { type TurnGate, turnGate } from '../pacing/turn-gate.js';
import type { MemberKeyType, MembershipRow } from '../store/store.js';
import {
  type AudienceServiceDeps,
  EVALUATION_LANES,
  inLanes,
  type LoadedAudience,
} from './audience.js';

// Who is in an audience: one person evaluated against the rules and the answer written under
// every id they have; a whole audience recomputed; the rows whose windows may have flipped.

/** Identifiers read per page of a full recompute. */
const RECOMPUTE_PAGE = 500;
/** Due memberships re-evaluated per audience per sweep. */
const SWEEP_BATCH = 2000;

type MembershipDeps = Pick<AudienceServiceDeps, 'store' | 'nowMs' | 'holdouts'>;

const nowS = (deps: MembershipDeps) => Math.floor(deps.nowMs() / 1000);

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
  if (!result.member && result.changes_at === null)
    await store.deleteMemberships(env_id, a.record.id, rows);
  else await store.upsertMemberships(env_id, a.record.id, rows, deps.nowMs());
  // A member enters the audience's holdout test now (the first entry stays).
  if (result.member) await deps.holdouts?.enterAudience(env_id, a.record.id, who);
  return { rows, member: result.member };
}

/**
   * Is this identifier in the audience now? One indexed row read while the stored answer

/**
 * Evaluates each identifier not yet in `done` (a person's evaluation writes all their ids,
 * which then go into `done`), in lanes, letting the event loop turn at `gate`.
 */
async function evaluateEach(
  deps: MembershipDeps,
  a: LoadedAudience,
  keys: ReadonlyArray<{ key_type: MemberKeyType; key_value: string }>,
  done: Set<string>,
  gate: TurnGate,
): Promise<void> {
  await inLanes(
    keys,
    EVALUATION_LANES,
    async (k) => {
      if (done.has(`${k.key_type}:${k.key_value}`)) return;
      const { rows } = await evaluateKey(deps, a, k.key_type, k.key_value);
      for (const r of rows) done.add(`${r.key_type}:${r.key_value}`);
    },
    gate,
  );
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
  const done = new Set<string>();
  const gate = turnGate();
  let after: { key_type: MemberKeyType; key_value: string } | null = null;
  for (;;) {
    const page = await store.identifiersSince(a.record.env_id, since, after, RECOMPUTE_PAGE);
    if (page.length === 0) break;
    await evaluateEach(deps, a, page, done, gate);
    after = page[page.length - 1];
  }
  // Members whose data is all older than the window were not listed above.
  await sweepAudience(deps, a, gate);
  await store.markAudienceRecomputed(a.record.env_id, a.record.id, deps.nowMs());
}
