import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  ChannelClassifier,
  type ChannelFieldError,
  DEFAULT_CHANNEL_SETTINGS,
  parseChannelSettings,
} from '../../domain/channel-rules.js';
import { channelFacts, ignoredVisit } from '../../domain/touch-channel.js';
import { readTrafficSource } from '../../domain/traffic-source.js';
import { landingContext } from '../../ingest/source-list.js';
import { channelSettingsOf } from '../../reports/channel-settings.js';
import { HttpError } from '../errors.js';
import { describedOnly } from '../openapi.js';
import type { Services } from '../services.js';

const EnvParams = Type.Object({ env_id: Type.String() });
const SettingsBody = Type.Object({
  rules: Type.Optional(
    Type.Array(Type.Unknown(), {
      description:
        'ordered; first match names the channel: {channel, source?, medium?, campaign?, source_category?, click_id?, touch?, any?: [conditions]} (globs)',
    }),
  ),
  ignored_referrers: Type.Optional(Type.Array(Type.String())),
});
const ClassifyBody = Type.Object({
  env_id: Type.String(),
  url: Type.Optional(Type.String({ description: 'the landing page URL' })),
  referrer: Type.Optional(Type.String()),
  campaign: Type.Optional(
    Type.Object({}, { additionalProperties: true, description: '{source, medium, name, …}' }),
  ),
});

/**
 * Channels (issue 23): an environment's channel rules and ignored referrers (`GET|PUT|DELETE
 * /api/environments/:env_id/channels`; saved ones win over the config file's), and
 * `POST /api/channels/classify`, which shows what a landing URL and referrer become.
 */
export function channelsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    const envOf = (id: string) => {
      const env = s.environment(id);
      if (!env) throw new HttpError(404, 'unknown_env', `no environment ${id}`);
      return env;
    };

    api.get<{ Params: { env_id: string } }>(
      '/api/environments/:env_id/channels',
      {
        schema: {
          summary: 'the channel rules and ignored referrers in force, and where they come from',
          params: EnvParams,
        },
      },
      async (req) => {
        const env = envOf(req.params.env_id);
        const inForce = await channelSettingsOf(s.store, env);
        return {
          env_id: env.id,
          ...inForce.settings,
          source: inForce.source,
          updated_at_ms: inForce.updated_at_ms,
          defaults: DEFAULT_CHANNEL_SETTINGS,
        };
      },
    );

    api.put<{ Params: { env_id: string }; Body: unknown }>(
      '/api/environments/:env_id/channels',
      {
        schema: {
          summary: 'replace the channel rules and ignored referrers (400 names each bad field)',
          params: EnvParams,
          body: SettingsBody,
        },
        // parseChannelSettings names each bad field, deeper than a schema would.
        ...describedOnly,
      },
      async (req) => {
        const env = envOf(req.params.env_id);
        const errors: ChannelFieldError[] = [];
        const settings = parseChannelSettings(req.body ?? {}, 'channels', errors);
        if (errors.length > 0)
          throw new HttpError(
            400,
            'invalid_channels',
            'the channel settings were not saved',
            errors,
          );
        const now = s.nowMs();
        await s.store.putChannelSettings(env.id, settings, now);
        return { env_id: env.id, ...settings, source: 'api', updated_at_ms: now };
      },
    );

    api.delete<{ Params: { env_id: string } }>(
      '/api/environments/:env_id/channels',
      {
        schema: {
          summary: 'forget the saved channel settings: the config file’s (or the defaults) apply',
          params: EnvParams,
        },
      },
      async (req) => {
        const env = envOf(req.params.env_id);
        return { env_id: env.id, deleted: await s.store.deleteChannelSettings(env.id) };
      },
    );

    api.post<{
      Body: { env_id: string; url?: string; referrer?: string; campaign?: Record<string, unknown> };
    }>(
      '/api/channels/classify',
      {
        schema: {
          summary:
            'what a landing (URL, referrer, stated campaign) becomes: its source, medium and channel',
          body: ClassifyBody,
        },
      },
      async (req) => {
        const env = envOf(req.body.env_id);
        const { settings } = await channelSettingsOf(s.store, env);
        const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
        const c = req.body.campaign ?? {};
        const ts = readTrafficSource(
          {
            url: req.body.url,
            referrer: req.body.referrer,
            stated: {
              source: text(c.source),
              medium: text(c.medium),
              campaign: text(c.name),
              term: text(c.term),
              content: text(c.content),
              id: text(c.id),
            },
          },
          landingContext(env),
        );
        if (!ts)
          return {
            visit: false,
            why: 'no UTM field, ad click id or external referrer: a direct visit or a later page',
            traffic_source: null,
            channel: null,
          };
        const touch = { kind: 'visit' as const, campaign_id: null, traffic_source: ts };
        const channel = new ChannelClassifier(settings.rules).channelOf(
          channelFacts(touch, undefined),
        );
        const ignored = ignoredVisit(touch, settings.ignored_referrers);
        const visit = !ts.via_click_link && !ignored;
        return {
          visit,
          why: ts.via_click_link
            ? 'landed through a pixeltrail click link: its click touch is the visit'
            : ignored
              ? 'the referrer is an ignored referrer: not a source'
              : 'a visit touch of this channel',
          traffic_source: ts,
          source_medium: `${ts.source} / ${ts.medium}`,
          channel,
        };
      },
    );
  });
}
