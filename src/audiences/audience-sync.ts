import type { HttpResult } from '../delivery/destinations/adapter.js';
import type { JobHandler } from '../delivery/job-handler.js';
import type { DestinationConfig } from '../domain/config-types.js';
import { classifyAttempt, type DeliveryVerdict } from '../domain/delivery-policy.js';
import { sha256Hex } from '../domain/identity.js';
import { each } from '../pacing/pausing.js';
import { type TurnGate, turnGate } from '../pacing/turn-gate.js';
import type { Store } from '../store/store.js';
import {
  AUDIENCE_SYNC_KIND,
  type AudienceSyncJob,
  type ErasureRemovals,
  type ExportIds,
  type KeyedSyncJob,
  type MembershipRow,
  type SyncTarget,
} from '../store/store.js';
import type { AudienceHoldouts, LoadedAudience } from './audience.js';
import {
  EXPORT_PLATFORMS,
  type ExportPlatform,
  exportRequests,
  requestBatches,
  sendable,
} from './audience-export.js';

export type { SyncTarget };

/** What a sync queued. */
export interface SyncPlan {
  added: number;
  removed: number;
  /** Persons the platform cannot match (no email or phone for TikTok and Google). */
  skipped: number;
  /** Outbox ids of the queued batches (`GET /api/deliveries/:id`). */
  deliveries: number[];
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
 * The members a platform may be sent: everyone but the audience's holdout (issue 23), read
 * fresh from the store so that no process sends someone another has just held out.
 */
export async function exposedMembers(
  deps: { store: Store; holdouts?: AudienceHoldouts },
  a: LoadedAudience,
): Promise<MembershipRow[]> {
  const members = await deps.store.audienceMembers(a.record.env_id, a.record.id);
  const holdout = await deps.holdouts?.forAudience(a.record.id, true);
  if (!holdout || !deps.holdouts) return members;
  // By the key each person first entered the test under, not their key now: one held out
  // as a browser stays held out once they log in.
  const groups = await deps.holdouts.groupsOf(
    holdout,
    members.map((m) => m.person),
  );
  return members.filter((m) => groups.get(m.person) === 'exposed');
}

/**
 * The exposed members with the ids a platform is sent, hashed at `pause`'s pace: a SHA-256 a
 * member, and 26,000 of them held the event loop about 50 ms in one go.
 */
export async function exposedExportIds(
  deps: { store: Store; holdouts?: AudienceHoldouts },
  a: LoadedAudience,
  pause: TurnGate,
): Promise<Array<{ person: string; ids: ExportIds }>> {
  const members: Array<{ person: string; ids: ExportIds }> = [];
  await each(
    await exposedMembers(deps, a),
    (m) => members.push({ person: m.person, ids: exportIds(m) }),
    pause,
  );
  return members;
}

/** The outbox jobs that add or remove these persons: one per request the platform allows. */
function syncJobs(
  b: {
    newId: (prefix: string) => string;
    platform: ExportPlatform;
    audience_id: string;
    target: SyncTarget;
  },
  action: 'add' | 'remove',
  persons: AudienceSyncJob['persons'],
): KeyedSyncJob[] {
  return requestBatches(b.platform, persons).map((batch) => ({
    key: `${b.audience_id}:${b.newId('as_')}`,
    job: { audience_id: b.audience_id, action, ...b.target, persons: batch },
  }));
}

/**
 * Queues what brings the platform's copy of the audience in line with its members: a remove
 * batch for who left, an add batch for who joined (or whose hashes changed), each one outbox
 * job of one request. What the platform is to hold is recorded with the jobs, so the next
 * sync (on demand or scheduled) sends only what changed since. The caller checks the minimum
 * size first.
 */
export async function planSync(
  deps: {
    store: Store;
    nowMs: () => number;
    newId: (prefix: string) => string;
    holdouts?: AudienceHoldouts;
  },
  a: LoadedAudience,
  dest: DestinationConfig,
  target: SyncTarget,
): Promise<SyncPlan> {
  const { store } = deps;
  const { env_id, id } = a.record;
  const platform = dest.type as ExportPlatform;
  // Held-out people are not members as far as the platform knows: one synced before the
  // holdout began (or before the fraction grew) is removed like one who left.
  // A SHA-256 and two JSON texts a member, paced: a scheduled sync of 26,000 members would
  // otherwise hold the event loop for as long as they take, no pixel or event answered.
  const pause = turnGate();
  const members = await exposedExportIds(deps, a, pause);
  const synced = await store.syncedPersons(env_id, id, dest.id);
  const held = new Map<string, string>();
  await each(synced, (s) => held.set(s.person, JSON.stringify(s.ids)), pause);
  const current = new Set(members.map((m) => m.person));
  const changed: typeof members = [];
  await each(
    members,
    (m) => {
      if (held.get(m.person) !== JSON.stringify(m.ids)) changed.push(m);
    },
    pause,
  );
  const adds = changed.filter((m) => sendable(platform, m.ids));
  const removes = synced.filter((s) => !current.has(s.person));
  const batch = { newId: deps.newId, platform, audience_id: id, target };
  // Removals first: a person who left and came back with new ids is removed, then added.
  const jobs = [...syncJobs(batch, 'remove', removes), ...syncJobs(batch, 'add', adds)];
  const deliveries = await store.enqueueAudienceSync(
    env_id,
    dest.id,
    jobs,
    adds,
    removes.map((r) => r.person),
    deps.nowMs(),
  );
  return {
    added: adds.length,
    removed: removes.length,
    skipped: changed.length - adds.length,
    deliveries,
  };
}

/**
 * The remove jobs that take an erased person off the platforms (GDPR Art. 17(2)): for each
 * audience × destination that was sent them, a remove batch of the ids sent to every platform
 * audience its add batches went to, in the same shape as planSync's. A destination no longer
 * configured (or no longer an audience platform) cannot be addressed and gets none.
 */
export function erasureRemovals(
  deps: { newId: (prefix: string) => string },
  destination: (dest_id: string) => DestinationConfig | undefined,
): ErasureRemovals {
  return (held) =>
    held.flatMap((h) => {
      const platform = destination(h.dest_id)?.type as ExportPlatform | undefined;
      if (!platform || !EXPORT_PLATFORMS.includes(platform)) return [];
      return h.targets.flatMap((target) =>
        syncJobs(
          { newId: deps.newId, platform, audience_id: h.audience_id, target },
          'remove',
          h.persons,
        ).map((j) => ({ dest_id: h.dest_id, ...j })),
      );
    });
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
 * Sends audience sync jobs through the delivery worker. Credentials come from the
 * destination's config at send time (the outbox holds none). An add batch of an audience
 * that has shrunk under its minimum size since it was queued is held back (failed, with the
 * reason; `POST /api/deliveries/:id/retry` sends it once the audience has grown again).
 */
export function audienceSyncJobs(store: Store): JobHandler {
  const platformOf = (dest: DestinationConfig) => dest.type as ExportPlatform;
  return {
    kind: AUDIENCE_SYNC_KIND,
    async refuse(claimed) {
      const job = claimed.payload as AudienceSyncJob | null;
      if (!job) return 'the job has no payload';
      // A removal carries its platform audience: it goes even when ours was deleted since (an
      // erased person must still leave the platform's copy).
      if (job.action === 'remove') return null;
      const a = await store.getAudience(job.audience_id);
      if (!a) return `audience ${job.audience_id} was deleted`;
      const size = await store.audienceSize(a.env_id, a.id);
      return size < a.min_export_size
        ? `below_minimum_size: the audience has ${size} people, under its minimum ${a.min_export_size}`
        : null;
    },
    buildRequest(claimed, dest) {
      const job = claimed.payload as AudienceSyncJob;
      const settings = dest.settings as Record<string, string | undefined>;
      const platform = platformOf(dest);
      const reqs = exportRequests(
        {
          platform,
          base_url: dest.base_url,
          access_token: settings.access_token ?? '',
          platform_audience_id: job.platform_audience_id,
          account_id:
            platform === 'tiktok'
              ? job.advertiser_id
              : platform === 'google_ads'
                ? (settings.customer_id ?? null)
                : null,
          api_version: platform === 'meta' ? settings.api_version : undefined,
        },
        job.action,
        job.persons.map((p) => p.ids),
      );
      // requestBatches made each job exactly one request's worth.
      if (reqs.length !== 1)
        throw new Error(`audience job ${claimed.outbox.id} is not one request`);
      return reqs[0];
    },
    kept(claimed) {
      const job = claimed.payload as AudienceSyncJob;
      return { ...job, persons: [], rows: job.persons.length };
    },
    interpret(result, dest, nowMs) {
      return verdictOf(platformOf(dest), result, nowMs);
    },
  };
}
