import type { TriggerRule } from '../../domain/trigger-rules.js';
import type { StoredDestinationRow, StoredTriggerRules } from '../records.js';

/** What is defined through the admin API: saved destinations, trigger rules, ended sessions. */
export interface DefinitionsPort {
  /** Every destination saved through the admin API, deleted ones included. */
  storedDestinations(): Promise<StoredDestinationRow[]>;
  /**
   * Replaces a saved destination's config with the same settings differently sealed (the
   * secrets encrypted, or encrypted again under a new key), only if the row is still as it
   * was read: an edit or delete made meanwhile wins. True when it was replaced.
   */
  resealStoredDestination(
    row: StoredDestinationRow,
    config: Record<string, unknown>,
  ): Promise<boolean>;
  /**
   * Saves (or, with `config` null, deletes) a destination. Each write moves the table's
   * version on, which is how other processes notice it.
   */
  putStoredDestination(
    env_id: string,
    dest_id: string,
    config: Record<string, unknown> | null,
    now_ms: number,
  ): Promise<void>;
  /** Forgets a saved destination (or deletion), so the config file's applies again. */
  forgetStoredDestination(env_id: string, dest_id: string): Promise<boolean>;
  /** A counter of the saved destinations that every write moves on. */
  storedDestinationsVersion(): Promise<string>;
  /** The codeless trigger rules of an environment, or null when none were ever saved. */
  getTriggerRules(env_id: string): Promise<StoredTriggerRules | null>;
  /** Replaces the environment's rule set. */
  putTriggerRules(env_id: string, rules: readonly TriggerRule[], now_ms: number): Promise<void>;
  /**
   * Ends a dashboard session everywhere (logout) until `expires_at_ms`, when it would have
   * expired anyway; sessions already past their expiry are forgotten on the way.
   */
  revokeSession(session_id: string, expires_at_ms: number, now_ms: number): Promise<void>;
  /** Whether a dashboard session was ended by logging out. */
  sessionRevoked(session_id: string): Promise<boolean>;
}
