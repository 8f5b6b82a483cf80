import { type ChannelSettings, DEFAULT_CHANNEL_SETTINGS } from '../domain/channel-rules.js';
import type { EnvironmentConfig } from '../domain/config-types.js';
import type { ChannelsPort } from '../store/store.js';

/** An environment's channel settings in force, and where they come from. */
export interface ChannelSettingsInForce {
  settings: ChannelSettings;
  /** `api`: saved through the admin API; `file`: the config file's; `default`: GA4's. */
  source: 'api' | 'file' | 'default';
  updated_at_ms: number | null;
}

/** The settings saved through the admin API, else the config file's, else the defaults. */
export async function channelSettingsOf(
  store: Pick<ChannelsPort, 'getChannelSettings'>,
  env: EnvironmentConfig,
): Promise<ChannelSettingsInForce> {
  const saved = await store.getChannelSettings(env.id);
  if (saved) return { settings: saved.settings, source: 'api', updated_at_ms: saved.updated_at_ms };
  if (env.channels) return { settings: env.channels, source: 'file', updated_at_ms: null };
  return { settings: DEFAULT_CHANNEL_SETTINGS, source: 'default', updated_at_ms: null };
}
