import type { Holdout, HoldoutSubject } from '../../domain/holdout.js';
import type { LiftEntry } from '../../domain/lift-report.js';

/** A conversion event as the lift report reads it: who, when, how much. */
export interface LiftEventRow {
  pk: string;
  /** Unix seconds. */
  time: number;
  user_id: string | null;
  anonymous_id: string | null;
  value: number | null;
  currency: string | null;
}

/** A browser seen with a user id; the latest `last_seen` (Unix s) is the browser's user. */
export interface UserLink {
  user_id: string;
  anonymous_id: string;
  last_seen: number;
}

/** Holdouts, who entered their tests, and what the lift report reads (issue 23 §3). */
export interface HoldoutsPort {
  /** A counter every holdout write moves on; other processes poll it to drop their copies. */
  holdoutsVersion(): Promise<string>;
  /** Stores a new holdout (the caller checked that its subject has none). */
  createHoldout(h: Holdout): Promise<void>;
  getHoldout(id: string): Promise<Holdout | null>;
  listHoldouts(env_id: string): Promise<Holdout[]>;
  holdoutOfSubject(
    env_id: string,
    subject_type: HoldoutSubject,
    subject_id: string,
  ): Promise<Holdout | null>;
  /** Saves name, fractions and conversion events. */
  updateHoldout(h: Holdout): Promise<void>;
  /** Deletes the holdout and its entries. */
  deleteHoldout(env_id: string, id: string): Promise<void>;
  /** Records that these persons entered the test at `entered_at`; a first entry stays. */
  recordHoldoutEntries(
    env_id: string,
    holdout_id: string,
    persons: readonly string[],
    entered_at: number,
  ): Promise<void>;
  /** Entries with `entered_at` in [from_s, to_s). */
  holdoutEntries(holdout_id: string, from_s: number, to_s: number): Promise<LiftEntry[]>;
  /**
   * The entries of these persons (`u:<user id>`, `a:<browser id>`), whenever they entered:
   * one person's keys, to find the one they first entered under.
   */
  holdoutEntriesOf(holdout_id: string, persons: readonly string[]): Promise<LiftEntry[]>;
  /** Identity links between these user ids or browser ids and the other kind. */
  userLinks(
    env_id: string,
    user_ids: readonly string[],
    anonymous_ids: readonly string[],
  ): Promise<UserLink[]>;
  /**
   * Human, non-test events named `names` with `event_time` in [from_s, to_s) that carry one
   * of these user ids or browser ids, each once; read on the (env_id, id, event_time)
   * indexes, so the cost follows the people asked about, not the environment's traffic.
   */
  liftEvents(
    env_id: string,
    names: readonly string[],
    from_s: number,
    to_s: number,
    ids: { user_ids: readonly string[]; anonymous_ids: readonly string[] },
  ): Promise<LiftEventRow[]>;
}
