import type { DestinationConfig } from '../config/config-types.js';
import type { HttpResult, HttpSend, OutgoingRequest } from '../delivery/destination.js';
import { classifyAttempt, type DeliveryVerdict, nextAttemptAt } from '../domain/delivery-policy.js';
import { sha256Hex } from '../domain/identity.js';
import type { ExportIds, MembershipRow } from '../store/audience-store.js';
import type { Store } from '../store/store.js';
import {
  type ExportPlatform,
  type ExportTarget,
  exportRequests,
  MAX_ROWS,
  sendable,
} from './audience-export.js';
import type { LoadedAudience } from './audience-service.js';

/** How much of a platform's answer the sync log keeps per attempt. */
const DETAIL_CHARS = 500;

export interface SyncDeps {
  store: Store;
  send: HttpSend;
  nowMs: () => number;
  random: () => number;
  newId: (prefix: string) => string;
  sleep: (ms: number) => Promise<void>;
}

/** What a sync did. */
export interface SyncReport {
  added: number;
  removed: number;
  /** Persons the platform cannot match (no email or phone for TikTok and Google). */
  skipped: number;
  /** Rows left for the next sync because the platform refused them or retries ran out. */
  failed: number;
}

/** The hashed ids of a member: the extern id is the hash of its user id, else its browser id. */
export function exportIds(m: MembershipRow): ExportIds {
  return {
    extern_id_sha256: sha256Hex(m.person.slice(2)),
    email_sha256: m.email_sha256,
    phone_sha256: m.phone_sha256,
    phone_e164_sha256: m.phone_e164_sha256,
  };
}

/**
 * TikTok answers HTTP 200 with a non-zero `code` when it refuses the request
 * (https://business-api.tiktok.com/portal/docs?id=1737172488964097): a refusal, not a success.
 */
function verdictOf(platform: ExportPlatform, r: HttpResult, nowMs: number): DeliveryVerdict {
  const v = classifyAttempt(
    r.kind === 'network' ? r : { kind: 'response', status: r.status, retryAfter: r.retryAfter },
    nowMs,
  );
  if (platform !== 'tiktok' || v.action !== 'done' || r.kind !== 'response') return v;
  try {
    const code = (JSON.parse(r.bodyExcerpt) as { code?: number }).code;
    if (code !== undefined && code !== 0) return { action: 'drop', reason: `TikTok code ${code}` };
  } catch {
    return { action: 'drop', reason: 'TikTok answered something other than JSON' };
  }
  return v;
}

/**
 * Sends one request until it is done, refused, or the destination's retry budget is spent
 * (the delivery policy's classes, backoff and `Retry-After`), logging every attempt.
 */
async function sendWithRetries(
  deps: SyncDeps,
  a: LoadedAudience,
  dest: DestinationConfig,
  platform: ExportPlatform,
  action: 'add' | 'remove',
  rows: number,
  req: OutgoingRequest,
): Promise<boolean> {
  const first = deps.nowMs();
  for (let attempt = 1; ; attempt++) {
    const at = deps.nowMs();
    const result = await deps.send(req, dest.timeout_ms);
    const done = deps.nowMs();
    const verdict = verdictOf(platform, result, done);
    const next =
      verdict.action === 'retry'
        ? nextAttemptAt(verdict, attempt, first, done, dest.retry, deps.random)
        : null;
    await deps.store.recordSyncAttempt({
      env_id: a.record.env_id,
      id: deps.newId('sa_'),
      audience_id: a.record.id,
      dest_id: dest.id,
      action,
      rows,
      attempt,
      at_ms: at,
      duration_ms: done - at,
      status_code: result.kind === 'response' ? result.status : null,
      error: verdict.action === 'done' ? null : verdict.reason,
      verdict: verdict.action === 'retry' && next === null ? 'dead-letter' : verdict.action,
      response_excerpt: (result.kind === 'response' ? result.bodyExcerpt : result.error).slice(
        0,
        DETAIL_CHARS,
      ),
    });
    if (verdict.action === 'done') return true;
    if (next === null) return false;
    await deps.sleep(Math.max(0, next - deps.nowMs()));
  }
}

/**
 * Brings the platform's copy of the audience in line with its members: removes who left,
 * adds who joined (or whose hashes changed), in batches of the platform's size, and records
 * what the platform holds after each batch so the next sync sends only the difference.
 * The caller checks the minimum size first.
 */
export async function syncAudience(
  deps: SyncDeps,
  a: LoadedAudience,
  dest: DestinationConfig,
  target: ExportTarget,
): Promise<SyncReport> {
  const { store } = deps;
  const { env_id, id } = a.record;
  const members = (await store.audienceMembers(env_id, id)).map((m) => ({
    person: m.person,
    ids: exportIds(m),
  }));
  const synced = await store.syncedPersons(env_id, id, dest.id);
  const held = new Map(synced.map((s) => [s.person, JSON.stringify(s.ids)]));
  const current = new Set(members.map((m) => m.person));
  const adds = members.filter((m) => held.get(m.person) !== JSON.stringify(m.ids));
  const removes = synced.filter((s) => !current.has(s.person));
  const report: SyncReport = { added: 0, removed: 0, skipped: 0, failed: 0 };
  const size = MAX_ROWS[target.platform];

  for (let i = 0; i < removes.length; i += size) {
    const chunk = removes.slice(i, i + size);
    const reqs = exportRequests(
      target,
      'remove',
      chunk.map((c) => c.ids),
    );
    let ok = true;
    for (const r of reqs)
      ok = (await sendWithRetries(deps, a, dest, target.platform, 'remove', chunk.length, r)) && ok;
    if (ok) {
      await store.markSynced(
        env_id,
        id,
        dest.id,
        [],
        chunk.map((c) => c.person),
        deps.nowMs(),
      );
      report.removed += chunk.length;
    } else report.failed += chunk.length;
  }
  for (let i = 0; i < adds.length; i += size) {
    const chunk = adds.slice(i, i + size);
    const reqs = exportRequests(
      target,
      'add',
      chunk.map((c) => c.ids),
    );
    const matchable = chunk.filter((c) => sendable(target.platform, c.ids));
    report.skipped += chunk.length - matchable.length;
    let ok = true;
    for (const r of reqs)
      ok =
        (await sendWithRetries(deps, a, dest, target.platform, 'add', matchable.length, r)) && ok;
    if (ok) {
      await store.markSynced(env_id, id, dest.id, matchable, [], deps.nowMs());
      report.added += matchable.length;
    } else report.failed += matchable.length;
  }
  return report;
}
