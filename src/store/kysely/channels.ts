import type { Kysely } from 'kysely';
import type { ChannelSettings } from '../../domain/channel-rules.js';
import type { CostRow } from '../../domain/costs.js';
import type { ChannelsPort, CostLine, StoredChannelSettings } from '../ports/channels.js';
import type { Database } from '../schema.js';
import { clearCampaignDays } from './campaign-cost-days.js';

/** Cost rows per insert statement (11 bound values each). */
const COST_CHUNK = 200;

/** Channel settings (0022_channels) and imported costs (0023_costs) over Kysely. */
export class KyselyChannels implements ChannelsPort {
  constructor(private readonly db: Kysely<Database>) {}

  async putCosts(env_id: string, rows: readonly CostRow[], now_ms: number): Promise<number> {
    await this.db.transaction().execute(async (tx) => {
      await clearCampaignDays(tx, env_id, rows);
      for (let i = 0; i < rows.length; i += COST_CHUNK) {
        await tx
          .insertInto('campaign_costs')
          .values(
            rows.slice(i, i + COST_CHUNK).map((r) => ({
              env_id,
              campaign_id: r.campaign_id,
              channel: r.channel,
              day: r.day,
              cost: r.cost,
              currency: r.currency,
              source: r.source,
              medium: r.medium,
              impressions: r.impressions,
              clicks: r.clicks,
              updated_at_ms: now_ms,
            })),
          )
          .execute();
      }
    });
    return rows.length;
  }

  async listCosts(env_id: string, from_day: number, to_day: number): Promise<CostLine[]> {
    const rows = await this.db
      .selectFrom('campaign_costs')
      .selectAll()
      .where('env_id', '=', env_id)
      .where('day', '>=', from_day)
      .where('day', '<', to_day)
      .orderBy('day')
      .orderBy('campaign_id')
      .orderBy('channel')
      .execute();
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return rows.map((r) => ({
      day: Number(r.day),
      campaign_id: r.campaign_id,
      channel: r.channel,
      cost: Number(r.cost),
      currency: r.currency,
      source: r.source,
      medium: r.medium,
      impressions: n(r.impressions),
      clicks: n(r.clicks),
    }));
  }

  async getChannelSettings(env_id: string): Promise<StoredChannelSettings | null> {
    const row = await this.db
      .selectFrom('channel_settings')
      .select(['settings', 'updated_at_ms'])
      .where('env_id', '=', env_id)
      .executeTakeFirst();
    return row
      ? {
          settings: JSON.parse(row.settings) as ChannelSettings,
          updated_at_ms: Number(row.updated_at_ms),
        }
      : null;
  }

  async putChannelSettings(env_id: string, settings: ChannelSettings, now_ms: number) {
    await this.db
      .insertInto('channel_settings')
      .values({ env_id, settings: JSON.stringify(settings), updated_at_ms: now_ms })
      .onConflict((oc) =>
        oc.column('env_id').doUpdateSet((eb) => ({
          settings: eb.ref('excluded.settings'),
          updated_at_ms: eb.ref('excluded.updated_at_ms'),
        })),
      )
      .execute();
  }

  async deleteChannelSettings(env_id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('channel_settings')
      .where('env_id', '=', env_id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
