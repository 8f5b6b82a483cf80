import type { DestinationConfig } from '../config/config-types.js';
import { VersionPoller } from '../config/version-poller.js';
import {
  evaluate,
  longestWindowS,
  type ParseResult,
  parseRules,
  type RuleError,
  type RuleGroup,
  usesTouches,
} from '../domain/audience-rules.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type {
  AudienceRecord,
  AudienceSchedule,
  ErasureRemovals,
  MemberKeyType,
  MembershipRow,
  Store,
} from '../store/store.js';
import { EXPORT_PLATFORMS, type ExportPlatform } from './audience-export.js';
import {
  erasureRemovals,
  exportIds,
  planSync,
  type SyncPlan,
  type SyncTarget,
} from './audience-sync.js';

/** Below this many persons nothing is exported, to protect individuals (issue 9). */
export const DEFAULT_MIN_EXPORT_SIZE = 100;
/** Identifiers read per page of a full recompute. */
const RECOMPUTE_PAGE = 500;
/** Identifiers waiting for incremental evaluation; past this, the env is fully recomputed. */
const MAX_DIRTY_KEYS = 50_000;
/** Due memberships re-evaluated per audience per sweep. */
const SWEEP_BATCH = 2000;
/**
 * Persons evaluated at once. Each takes about five queries; on PostgreSQL their round trips
 * overlap on the pool (SQLite runs them one by one anyway). Two lanes evaluating one person
 * write the same answer, so overlap is harmless.
 */
const EVALUATION_LANES = 8;
/** Scheduled syncs taken per run of the timer. */
const SCHEDULES_PER_RUN = 100;

/** Runs `fn` over `items`, at most `lanes` at a time. */
async function inLanes<T>(items: readonly T[], lanes: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

/** An identifier of a person in one environment. */
export interface IdentifierKey {
  env_id: string;
  key_type: MemberKeyType;
  key_value: string;
  /** What brought it: a touch matters only to audiences with touch conditions. */
  from?: 'event' | 'touch';
}

/** An audience with its parsed rules. */
export interface LoadedAudience {
  record: AudienceRecord;
  rules: RuleGroup;
}

export interface AudienceServiceDeps {
  store: Store;
  nowMs: () => number;
  newId: (prefix: string) => string;
  /** A configured destination, for scheduled syncs. */
  destination: (env_id: string, dest_id: string) => DestinationConfig | undefined;
  /** Sync batches were queued in the outbox: the delivery worker may start at once. */
  onJobsQueued?: () => void;
  onError?: (message: string) => void;
}

export type CreateResult = { ok: true; id: string } | { ok: false; errors: RuleError[] };
export type UpdateResult = { ok: true } | { ok: false; errors: RuleError[] };

/** What `update` may change; rules are given raw, as the admin API received them. */
export interface AudiencePatch {
  name?: string;
  rules?: unknown;
  min_export_size?: number;
}

/** The identifiers an ingested event or touch brings; they may change some membership. */
export function identifiersOf(item: { event: TrackedEvent } | { touch: Touch }): IdentifierKey[] {
  const out: IdentifierKey[] = [];
  if ('touch' in item) {
    const t = item.touch;
    const from = 'touch';
    if (t.user_id) out.push({ env_id: t.env_id, key_type: 'user_id', key_value: t.user_id, from });
    if (t.anonymous_id)
      out.push({ env_id: t.env_id, key_type: 'anonymous_id', key_value: t.anonymous_id, from });
    return out;
  }
  const e = item.event;
  if (e.user.user_id)
    out.push({ env_id: e.env_id, key_type: 'user_id', key_value: e.user.user_id });
  for (const a of new Set([e.user.anonymous_id, e.user.cookie_id])) {
    if (a) out.push({ env_id: e.env_id, key_type: 'anonymous_id', key_value: a });
  }
  return out;
}

/**
 * Keeps audience memberships current: a person is evaluated again when their events or
 * touches arrive (incrementally, off the ingest path), when the time a window may flip
 * has passed (sweep, or inline at lookup), and all at once on demand (recompute).
 */
export class AudienceService {
  private readonly loaded = new Map<string, LoadedAudience>();
  private readonly byEnv = new Map<string, string[]>();
  /** Environments known to have no audience with a touch condition. */
  private readonly touchBlind = new Set<string>();
  private dirty = new Map<string, IdentifierKey>();
  private overflowEnvs = new Set<string>();
  private draining: Promise<void> | null = null;
  private readonly lastSize = new Map<string, number>();
  /** Drops what was read when another process created, edited or deleted an audience. */
  private readonly poller: VersionPoller;
  /** Identifiers evaluated since the last poll began, and those of the poll before it. */
  private recent = new Map<string, IdentifierKey>();
  private checked = new Map<string, IdentifierKey>();
  /** Environments whose recent identifiers were too many to keep. */
  private recentOverflow = new Set<string>();
  private checkedOverflow = new Set<string>();

  constructor(private readonly deps: AudienceServiceDeps) {
    this.poller = new VersionPoller({
      version: () => deps.store.audiencesVersion(),
      beforeCheck: () => {
        this.checked = this.recent;
        this.recent = new Map();
        this.checkedOverflow = this.recentOverflow;
        this.recentOverflow = new Set();
      },
      reload: () => this.reloadChanged(),
      onError: (message) => deps.onError?.(`audience reload failed: ${message}`),
    });
  }

  /**
   * Another process changed an audience. Besides dropping the definitions read, evaluates
   * again whom this process evaluated since the previous poll: those answers may have been
   * written under the old rules after the other process cleared and recomputed the members.
   */
  private async reloadChanged(): Promise<void> {
    this.refresh();
    // Evaluations that started under the old rules finish (and are listed) first.
    await this.settle();
    const again = [...this.checked.values(), ...this.recent.values()];
    for (const env_id of [...this.checkedOverflow, ...this.recentOverflow])
      this.overflowEnvs.add(env_id);
    this.checked = new Map();
    this.recent = new Map();
    this.checkedOverflow = new Set();
    this.recentOverflow = new Set();
    this.noteIngested(again);
  }

  /** Polls the audiences' version now (tests; the timer does it every 2 s). */
  poll(): Promise<void> {
    return this.poller.poll();
  }

  /** Starts watching the store for audiences changed by other processes. */
  start(everyMs?: number): void {
    this.poller.start(everyMs);
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }

  private nowS(): number {
    return Math.floor(this.deps.nowMs() / 1000);
  }

  /** Validates and stores a new audience, then computes its members. */
  async create(
    env_id: string,
    name: string,
    rawRules: unknown,
    min_export_size = DEFAULT_MIN_EXPORT_SIZE,
  ): Promise<CreateResult> {
    const parsed: ParseResult = parseRules(rawRules);
    if (!parsed.ok) return parsed;
    const record: AudienceRecord = {
      env_id,
      id: this.deps.newId('aud_'),
      name,
      rules: rawRules,
      min_export_size,
      created_at_ms: this.deps.nowMs(),
      recomputed_at_ms: null,
    };
    await this.deps.store.createAudience(record);
    this.remember({ record, rules: parsed.rules });
    await this.recompute(record.id);
    return { ok: true, id: record.id };
  }

  private remember(a: LoadedAudience): void {
    this.loaded.set(a.record.id, a);
    if (usesTouches(a.rules)) this.touchBlind.delete(a.record.env_id);
    const ids = this.byEnv.get(a.record.env_id);
    if (ids && !ids.includes(a.record.id)) ids.push(a.record.id);
  }

  /**
   * Changes an audience. New rules are validated like new ones; then every membership is
   * dropped and recomputed under them (the size history goes on).
   */
  async update(id: string, patch: AudiencePatch): Promise<UpdateResult> {
    const a = await this.get(id);
    if (!a) throw new Error(`no audience ${id}`);
    let rules = a.rules;
    const rulesChanged =
      patch.rules !== undefined && JSON.stringify(patch.rules) !== JSON.stringify(a.record.rules);
    if (rulesChanged) {
      const parsed = parseRules(patch.rules);
      if (!parsed.ok) return parsed;
      rules = parsed.rules;
    }
    const record: AudienceRecord = {
      ...a.record,
      name: patch.name ?? a.record.name,
      rules: rulesChanged ? patch.rules : a.record.rules,
      min_export_size: patch.min_export_size ?? a.record.min_export_size,
    };
    await this.deps.store.updateAudience(record.env_id, id, record);
    this.remember({ record, rules });
    if (rulesChanged) {
      // An evaluation under the old rules must not land after the memberships are cleared.
      while (this.draining) await this.draining;
      await this.deps.store.clearMemberships(record.env_id, id);
      await this.recompute(id);
    }
    return { ok: true };
  }

  /** Deletes an audience with its members, size history, sync state and queued syncs. */
  async remove(id: string): Promise<void> {
    const a = await this.get(id);
    if (!a) return;
    this.loaded.delete(id);
    const ids = this.byEnv.get(a.record.env_id);
    if (ids)
      this.byEnv.set(
        a.record.env_id,
        ids.filter((x) => x !== id),
      );
    this.lastSize.delete(id);
    while (this.draining) await this.draining;
    await this.deps.store.deleteAudience(a.record.env_id, id);
  }

  /** The audience, from memory after the first read (edits go through `update`). */
  async get(id: string): Promise<LoadedAudience | null> {
    const hit = this.loaded.get(id);
    if (hit) return hit;
    const record = await this.deps.store.getAudience(id);
    if (!record) return null;
    const parsed = parseRules(record.rules);
    if (!parsed.ok) throw new Error(`stored audience ${id} has invalid rules`);
    const a = { record, rules: parsed.rules };
    this.remember(a);
    return a;
  }

  private async ofEnv(env_id: string): Promise<LoadedAudience[]> {
    let ids = this.byEnv.get(env_id);
    if (!ids) {
      ids = (await this.deps.store.listAudiences(env_id)).map((r) => r.id);
      this.byEnv.set(env_id, ids);
    }
    const out: LoadedAudience[] = [];
    for (const id of ids) {
      const a = await this.get(id);
      if (a) out.push(a);
    }
    if (out.some((a) => usesTouches(a.rules))) this.touchBlind.delete(env_id);
    else this.touchBlind.add(env_id);
    return out;
  }

  /** Forgets what it read, so audiences created or edited by other processes are seen. */
  refresh(): void {
    this.loaded.clear();
    this.byEnv.clear();
    this.touchBlind.clear();
  }

  /**
   * Evaluates the person behind one identifier and writes the answer under every id of
   * that person, so a lookup by any of them is one row.
   */
  private async evaluateKey(a: LoadedAudience, key_type: MemberKeyType, key_value: string) {
    const { store } = this.deps;
    const env_id = a.record.env_id;
    const who = await store.personOf(env_id, key_type, key_value);
    const now = this.nowS();
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
    else await store.upsertMemberships(env_id, a.record.id, rows, this.deps.nowMs());
    return { rows, member: result.member };
  }

  /**
   * Is this identifier in the audience now? One indexed row read while the stored answer
   * is still exact; past its `changes_at` the person is evaluated again first.
   */
  async isMember(a: LoadedAudience, key_type: MemberKeyType, key_value: string): Promise<boolean> {
    const row = await this.deps.store.getMembership(
      a.record.env_id,
      a.record.id,
      key_type,
      key_value,
    );
    if (!row) return false;
    if (row.changes_at === null || this.nowS() < row.changes_at) return row.member;
    return (await this.evaluateKey(a, key_type, key_value)).member;
  }

  /** Evaluates everyone with data inside the audience's window, then the due rows. */
  async recompute(id: string): Promise<number> {
    const a = await this.get(id);
    if (!a) throw new Error(`no audience ${id}`);
    const { store } = this.deps;
    const since = this.nowS() - longestWindowS(a.rules);
    const done = new Set<string>();
    let after: { key_type: MemberKeyType; key_value: string } | null = null;
    for (;;) {
      const page = await store.identifiersSince(a.record.env_id, since, after, RECOMPUTE_PAGE);
      if (page.length === 0) break;
      await inLanes(page, EVALUATION_LANES, async (k) => {
        if (done.has(`${k.key_type}:${k.key_value}`)) return;
        const { rows } = await this.evaluateKey(a, k.key_type, k.key_value);
        for (const r of rows) done.add(`${r.key_type}:${r.key_value}`);
      });
      after = page[page.length - 1];
    }
    // Members whose data is all older than the window were not listed above.
    await this.sweepAudience(a);
    await store.markAudienceRecomputed(a.record.env_id, id, this.deps.nowMs());
    return this.recordSize(a, true);
  }

  /** Re-evaluates the memberships whose windows may have flipped by now. */
  private async sweepAudience(a: LoadedAudience): Promise<void> {
    for (;;) {
      const due = await this.deps.store.membershipsDue(
        a.record.env_id,
        a.record.id,
        this.nowS(),
        SWEEP_BATCH,
      );
      if (due.length === 0) return;
      const seen = new Set<string>();
      await inLanes(due, EVALUATION_LANES, async (k) => {
        if (seen.has(`${k.key_type}:${k.key_value}`)) return;
        const { rows } = await this.evaluateKey(a, k.key_type, k.key_value);
        for (const r of rows) seen.add(`${r.key_type}:${r.key_value}`);
      });
      if (due.length < SWEEP_BATCH) return;
    }
  }

  /** Stores the size when it changed since the last point (or always, when `force`). */
  private async recordSize(a: LoadedAudience, force = false): Promise<number> {
    const size = await this.deps.store.audienceSize(a.record.env_id, a.record.id);
    if (force || this.lastSize.get(a.record.id) !== size) {
      await this.deps.store.recordAudienceSize(
        a.record.env_id,
        a.record.id,
        this.deps.nowMs(),
        size,
      );
      this.lastSize.set(a.record.id, size);
    }
    return size;
  }

  /** Moves members in and out as windows pass, for every audience of these environments. */
  async sweep(env_ids: readonly string[]): Promise<void> {
    for (const env_id of env_ids) {
      for (const a of await this.ofEnv(env_id)) {
        await this.sweepAudience(a);
        await this.recordSize(a);
      }
    }
  }

  /**
   * noteIngested for committed pixel touches. Most come in thousands a second for
   * environments with no audience that reads touches: no keys are made for those.
   */
  noteTouches(touches: readonly Touch[]): void {
    const keys: IdentifierKey[] = [];
    for (const touch of touches) {
      const env = touch.env_id;
      if (this.byEnv.get(env)?.length === 0 || this.touchBlind.has(env)) continue;
      keys.push(...identifiersOf({ touch }));
    }
    this.noteIngested(keys);
  }

  /** Queues the identifiers of just-committed events and touches for evaluation. */
  noteIngested(keys: readonly IdentifierKey[]): void {
    for (const k of keys) {
      // Most pixel traffic is for environments without audiences: nothing to queue.
      if (this.byEnv.get(k.env_id)?.length === 0 || this.overflowEnvs.has(k.env_id)) continue;
      if (k.from === 'touch' && this.touchBlind.has(k.env_id)) continue;
      if (this.dirty.size >= MAX_DIRTY_KEYS) {
        this.overflowEnvs.add(k.env_id);
        continue;
      }
      this.dirty.set(`${k.env_id}\u0000${k.key_type}\u0000${k.key_value}`, k);
    }
    if (!this.draining && (this.dirty.size > 0 || this.overflowEnvs.size > 0)) {
      this.draining = this.drain().finally(() => {
        this.draining = null;
      });
    }
  }

  /** Resolves once every queued identifier has been evaluated. */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Hashed identifiers of the members, one row per person, for the CSV export. */
  async exportRows(a: LoadedAudience) {
    return (await this.deps.store.audienceMembers(a.record.env_id, a.record.id)).map(exportIds);
  }

  /** Queues the add and remove batches that bring the platform in line (see planSync). */
  async sync(a: LoadedAudience, dest: DestinationConfig, target: SyncTarget): Promise<SyncPlan> {
    const plan = await planSync(this.deps, a, dest, target);
    if (plan.deliveries.length > 0) this.deps.onJobsQueued?.();
    return plan;
  }

  /**
   * How an erasure of a person in `env_id` takes them off the platform audiences they were
   * synced to (see erasureRemovals); the destination says which platform it is.
   */
  erasureRemovals(env_id: string): ErasureRemovals {
    return erasureRemovals(this.deps, (dest_id) => this.deps.destination(env_id, dest_id));
  }

  /** Replaces the audience's scheduled syncs; each first runs at once, then `every_ms`. */
  async setSchedules(
    a: LoadedAudience,
    schedules: ReadonlyArray<Omit<AudienceSchedule, 'next_run_at_ms' | 'last_run_at_ms'>>,
  ): Promise<void> {
    const now = this.deps.nowMs();
    await this.deps.store.putSchedules(
      a.record.env_id,
      a.record.id,
      schedules.map((x) => ({ ...x, next_run_at_ms: now, last_run_at_ms: null })),
    );
  }

  /**
   * Runs the scheduled syncs that are due: each queues the delta since the audience's last
   * sync to that destination. An audience under its minimum size sends nothing this time.
   */
  async runScheduledSyncs(): Promise<number> {
    const due = await this.deps.store.claimDueSchedules(this.deps.nowMs(), SCHEDULES_PER_RUN);
    let queued = 0;
    for (const s of due) {
      try {
        const a = await this.get(s.audience_id);
        const dest = this.deps.destination(s.env_id, s.dest_id);
        if (!a || !dest || !EXPORT_PLATFORMS.includes(dest.type as ExportPlatform)) {
          this.deps.onError?.(`scheduled sync of ${s.audience_id} to ${s.dest_id}: no such target`);
          continue;
        }
        const size = await this.deps.store.audienceSize(s.env_id, s.audience_id);
        if (size < a.record.min_export_size) continue;
        queued += (await this.sync(a, dest, s)).deliveries.length;
      } catch (e) {
        this.deps.onError?.(`scheduled sync failed: ${(e as Error).message}`);
      }
    }
    return queued;
  }

  /** Remembers an identifier evaluated incrementally, in case its rules were already stale. */
  private noteEvaluated(k: IdentifierKey): void {
    if (this.recentOverflow.has(k.env_id)) return;
    if (this.recent.size >= MAX_DIRTY_KEYS) this.recentOverflow.add(k.env_id);
    else this.recent.set(`${k.env_id}\u0000${k.key_type}\u0000${k.key_value}`, k);
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0 || this.overflowEnvs.size > 0) {
      const batch = [...this.dirty.values()];
      this.dirty = new Map();
      const overflow = [...this.overflowEnvs];
      this.overflowEnvs = new Set();
      try {
        for (const env_id of overflow) {
          for (const a of await this.ofEnv(env_id)) await this.recompute(a.record.id);
        }
        const touched = new Set<LoadedAudience>();
        await inLanes(batch, EVALUATION_LANES, async (k) => {
          if (overflow.includes(k.env_id)) return;
          for (const a of await this.ofEnv(k.env_id)) {
            if (k.from === 'touch' && !usesTouches(a.rules)) continue;
            await this.evaluateKey(a, k.key_type, k.key_value);
            touched.add(a);
          }
          this.noteEvaluated(k);
        });
        for (const a of touched) await this.recordSize(a);
      } catch (e) {
        this.deps.onError?.(`audience update failed: ${(e as Error).message}`);
      }
    }
  }
}
