import { VersionPoller } from '../config/version-poller.js';
import { type ParseResult, parseRules, usesTouches } from '../domain/audience-rules.js';
import type { DestinationConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { turnGate } from '../pacing/turn-gate.js';
import type {
  AudienceRecord,
  AudienceSchedule,
  ErasureRemovals,
  MemberKeyType,
} from '../store/store.js';
import {
  type AudiencePatch,
  type AudienceServiceDeps,
  type CreateResult,
  DEFAULT_MIN_EXPORT_SIZE,
  type IdentifierKey,
  identifiersOf,
  type LoadedAudience,
  type UpdateResult,
} from './audience.js';
import {
  erasureRemovals,
  exposedExportIds,
  planSync,
  type SyncPlan,
  type SyncTarget,
} from './audience-sync.js';
import { evaluateKey, evaluateKeys, recomputeMembers, sweepAudience } from './membership.js';
import { runScheduledSyncs, setSchedules } from './schedules.js';

// The audience types live in audience.ts; importers of this file keep their names.
export {
  type AudiencePatch,
  type AudienceServiceDeps,
  type CreateResult,
  DEFAULT_MIN_EXPORT_SIZE,
  type IdentifierKey,
  identifiersOf,
  type LoadedAudience,
  type UpdateResult,
} from './audience.js';

/** Identifiers waiting for incremental evaluation; past this, the env is fully recomputed. */
const MAX_DIRTY_KEYS = 50_000;

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
  /**
   * Environments whose events or touches were let pass unevaluated (no audience read them)
   * since the last poll began, and in the poll before, each with the audiences whose members
   * cannot miss them: those known then, none of which read touches. Another process may have
   * created an audience (or made one read touches) and computed its members before those rows
   * were committed here; only such audiences are recomputed, since recomputing moves the
   * version again and a full recompute per poll never ended under steady traffic.
   */
  private recentSkipped = new Map<string, Set<string>>();
  private checkedSkipped = new Map<string, Set<string>>();
  /** Skipped environments to look at after a reload, with the audiences that are covered. */
  private skippedEnvs = new Map<string, Set<string>>();

  constructor(private readonly deps: AudienceServiceDeps) {
    this.poller = new VersionPoller({
      version: () => deps.store.audiencesVersion(),
      beforeCheck: () => {
        this.checked = this.recent;
        this.recent = new Map();
        this.checkedOverflow = this.recentOverflow;
        this.recentOverflow = new Set();
        this.checkedSkipped = this.recentSkipped;
        this.recentSkipped = new Map();
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
    // Traffic let pass as no audience's: the audiences that could miss it are recomputed
    // (an environment with none costs one list read).
    for (const skipped of [this.checkedSkipped, this.recentSkipped])
      for (const [env_id, covered] of skipped) mergeCovered(this.skippedEnvs, env_id, covered);
    this.checkedSkipped = new Map();
    this.recentSkipped = new Map();
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
    this.coverSkipped(record);
    return { ok: true, id: record.id };
  }

  /**
   * The audience was just computed here, after every row this process let pass so far was
   * committed: those rows need no recompute of it at the next reload.
   */
  private coverSkipped(record: AudienceRecord): void {
    for (const skipped of [this.checkedSkipped, this.recentSkipped])
      skipped.get(record.env_id)?.add(record.id);
  }

  /** Remembers that this environment's traffic was let pass (see recentSkipped). */
  private noteSkipped(env_id: string): void {
    const covered = this.recentSkipped.get(env_id);
    // The common case, an environment without audiences: one map read per batch or event.
    if (covered?.size === 0) return;
    const known = this.byEnv.get(env_id) ?? [];
    if (!covered) {
      this.recentSkipped.set(env_id, new Set(known));
      return;
    }
    // Only an audience known at every skip is covered (deleted ones leave; the rest stay).
    for (const id of covered) if (!known.includes(id)) covered.delete(id);
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
      this.coverSkipped(record);
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
    return (await evaluateKey(this.deps, a, key_type, key_value)).member;
  }

  /** Evaluates everyone with data inside the audience's window, then the due rows. */
  async recompute(id: string): Promise<number> {
    const a = await this.get(id);
    if (!a) throw new Error(`no audience ${id}`);
    await recomputeMembers(this.deps, a);
    return this.recordSize(a, true);
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
        await sweepAudience(this.deps, a);
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
    let skipped: string | null = null;
    for (const touch of touches) {
      const env = touch.env_id;
      if (this.byEnv.get(env)?.length === 0 || this.touchBlind.has(env)) {
        // A batch of pixel hits is mostly one environment's: one set insertion for the run.
        if (env !== skipped) this.noteSkipped(env);
        skipped = env;
        continue;
      }
      keys.push(...identifiersOf({ touch }));
    }
    this.noteIngested(keys);
  }

  /**
   * noteIngested for committed events. An environment known to have no audience makes no
   * keys at all (issue 22: about 1 µs a tag event): noteIngested would drop them anyway.
   */
  noteEvents(events: readonly TrackedEvent[]): void {
    const keys: IdentifierKey[] = [];
    for (const event of events) {
      if (this.byEnv.get(event.env_id)?.length === 0) {
        this.noteSkipped(event.env_id);
        continue;
      }
      keys.push(...identifiersOf({ event }));
    }
    this.noteIngested(keys);
  }

  /** Queues the identifiers of just-committed events and touches for evaluation. */
  noteIngested(keys: readonly IdentifierKey[]): void {
    for (const k of keys) {
      // Most pixel traffic is for environments without audiences: nothing to queue.
      if (this.overflowEnvs.has(k.env_id)) continue;
      if (
        this.byEnv.get(k.env_id)?.length === 0 ||
        (k.from === 'touch' && this.touchBlind.has(k.env_id))
      ) {
        this.noteSkipped(k.env_id);
        continue;
      }
      if (this.dirty.size >= MAX_DIRTY_KEYS) {
        this.overflowEnvs.add(k.env_id);
        continue;
      }
      this.dirty.set(`${k.env_id}\u0000${k.key_type}\u0000${k.key_value}`, k);
    }
    if (
      !this.draining &&
      (this.dirty.size > 0 || this.overflowEnvs.size > 0 || this.skippedEnvs.size > 0)
    ) {
      this.draining = this.drain().finally(() => {
        this.draining = null;
      });
    }
  }

  /** Resolves once every queued identifier has been evaluated. */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Hashed identifiers of the members (not the held-out ones), one row per person. */
  async exportRows(a: LoadedAudience) {
    return (await exposedExportIds(this.deps, a, turnGate())).map((m) => m.ids);
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
  setSchedules(
    a: LoadedAudience,
    schedules: ReadonlyArray<Omit<AudienceSchedule, 'next_run_at_ms' | 'last_run_at_ms'>>,
  ): Promise<void> {
    return setSchedules(this.deps, a, schedules);
  }

  /** Runs the scheduled syncs that are due (see schedules.ts). */
  runScheduledSyncs(): Promise<number> {
    return runScheduledSyncs(
      this.deps,
      (id) => this.get(id),
      (a, dest, target) => this.sync(a, dest, target),
    );
  }

  /** Remembers an identifier evaluated incrementally, in case its rules were already stale. */
  private noteEvaluated(k: IdentifierKey): void {
    if (this.recentOverflow.has(k.env_id)) return;
    if (this.recent.size >= MAX_DIRTY_KEYS) this.recentOverflow.add(k.env_id);
    else this.recent.set(`${k.env_id}\u0000${k.key_type}\u0000${k.key_value}`, k);
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0 || this.overflowEnvs.size > 0 || this.skippedEnvs.size > 0) {
      const batch = [...this.dirty.values()];
      this.dirty = new Map();
      const overflow = [...this.overflowEnvs];
      this.overflowEnvs = new Set();
      const skipped = this.skippedEnvs;
      this.skippedEnvs = new Map();
      try {
        for (const env_id of overflow) {
          for (const a of await this.ofEnv(env_id)) await this.recompute(a.record.id);
        }
        for (const [env_id, covered] of skipped) {
          if (overflow.includes(env_id)) continue;
          for (const a of await this.ofEnv(env_id)) {
            // A covered audience that reads touches now was edited since: touches may be missing.
            if (!covered.has(a.record.id) || usesTouches(a.rules))
              await this.recompute(a.record.id);
          }
        }
        const touched = new Set<LoadedAudience>();
        const byEnv = new Map<string, IdentifierKey[]>();
        for (const k of batch) {
          if (overflow.includes(k.env_id)) continue;
          const keys = byEnv.get(k.env_id);
          if (keys) keys.push(k);
          else byEnv.set(k.env_id, [k]);
        }
        // A page of persons at a time per audience, as a full evaluation reads them.
        const gate = turnGate();
        for (const [env_id, keys] of byEnv) {
          for (const a of await this.ofEnv(env_id)) {
            const theirs = usesTouches(a.rules) ? keys : keys.filter((k) => k.from !== 'touch');
            if (theirs.length === 0) continue;
            await evaluateKeys(this.deps, a, theirs, gate);
            touched.add(a);
          }
          for (const k of keys) this.noteEvaluated(k);
        }
        for (const a of touched) await this.recordSize(a);
      } catch (e) {
        this.deps.onError?.(`audience update failed: ${(e as Error).message}`);
      }
    }
  }
}

/** Adds an environment's skipped traffic, keeping only audiences covered in both. */
function mergeCovered(into: Map<string, Set<string>>, env_id: string, covered: Set<string>): void {
  const had = into.get(env_id);
  if (!had) into.set(env_id, new Set(covered));
  else for (const id of had) if (!covered.has(id)) had.delete(id);
}
