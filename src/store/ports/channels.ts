import type { ChannelSettings } from '../../domain/channel-rules.js';
import type { CostRow } from '../../domain/costs.js';

/** A stored daily cost; `currency` null for spend typed in without one (reporting currency). */
export interface CostLine extends Omit<CostRow, 'currency'> {
  currency: string | null;
}

/** An environment's channel settings saved through the admin API. */
export interface StoredChannelSettings {
  settings: ChannelSettings;
  updated_at_ms: number;
}

/** Channel settings and imported costs (issue 23). */
export interface ChannelsPort {
  /**
   * Saves imported daily costs in one transaction: what each campaign cost on each day the
   * rows name, under every channel, is replaced by the rows. Answers the rows written.
   */
  putCosts(env_id: string, rows: readonly CostRow[], now_ms: number): Promise<number>;
  /** Every cost of an environment on the UTC days [from_day, to_day) (Unix days). */
  listCosts(env_id: string, from_day: number, to_day: number): Promise<CostLine[]>;
  /** The saved settings of an environment, or null when its config file's apply. */
  getChannelSettings(env_id: string): Promise<StoredChannelSettings | null>;
  /** Replaces an environment's saved settings. */
  putChannelSettings(env_id: string, settings: ChannelSettings, now_ms: number): Promise<void>;
  /** Forgets the saved settings (the config file's apply again); false when there were none. */
  deleteChannelSettings(env_id: string): Promise<boolean>;
}
