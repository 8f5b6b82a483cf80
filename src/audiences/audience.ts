import type { RuleError, RuleGroup } from '../domain/audience-rules.js';
import type { DestinationConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { Holdout, HoldoutGroup } from '../domain/holdout.js';
import type { AudienceRecord, MemberKeyType, PersonIds, Store } from '../store/store.js';

// What an audience is to the rest of the code: its loaded form, the identifiers that make
// someone's membership worth re-evaluating, and the service's dependencies. The service
// (audience-service.ts) and its parts (membership.ts, schedules.ts, audience-sync.ts) share
// these without importing each other back.

/** Below this many persons nothing is exported, to protect individuals (issue 9). */
export const DEFAULT_MIN_EXPORT_SIZE = 100;

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

/** An audience's holdout (issue 23): whom syncs and exports leave out, who enters its test. */
export interface AudienceHoldouts {
  forAudience(audience_id: string, fresh?: boolean): Promise<Holdout | null>;
  /** The person enters the audience's test, under the key they first entered it with, if any. */
  enterAudience(env_id: string, audience_id: string, who: PersonIds): Promise<void>;
  /** Each membership person's group, by the key they first entered the test under. */
  groupsOf(h: Holdout, persons: readonly string[]): Promise<Map<string, HoldoutGroup>>;
}

export interface AudienceServiceDeps {
  store: Store;
  /** Holdouts of audiences; none when left out. */
  holdouts?: AudienceHoldouts;
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
