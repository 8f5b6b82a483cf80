import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../domain/config-types.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';
import { corsHeaders } from './beacon.js';
import type { Obj } from './segment-body.js';

/**
 * `GET /v1/projects/:key/settings`: what analytics.js loads from Segment's CDN, pointing it
 * back at this collector.
 */
export function segmentSettings(app: FastifyInstance, s: Services): void {
  app.get<{ Params: { key: string } }>('/v1/projects/:key/settings', async (req, reply) => {
    corsHeaders(s, req, reply);
    const env = s.environmentByWriteKey(req.params.key);
    if (!env) throw new HttpError(404, 'not_found', 'no environment has this write key');
    const api = settingsApiBase(s.config, req);
    if (!api.fromRequest)
      return reply
        .header('cache-control', 'public, max-age=300')
        .send(cdnSettings(req.params.key, api));
    // Built from the request's Host: a shared cache must not serve it to another host.
    const prior = reply.getHeader('vary');
    const vary = [
      'Host',
      ...(s.config.trust_proxy ? ['X-Forwarded-Host', 'X-Forwarded-Proto'] : []),
    ];
    return reply
      .header('vary', [prior, ...vary].filter(Boolean).join(', '))
      .header('cache-control', 'private, max-age=300')
      .send(cdnSettings(req.params.key, api));
  });
}

/** Where analytics.js is told to send: host and path, scheme, and whether the request said so. */
interface ApiBase {
  host: string;
  protocol: string;
  fromRequest: boolean;
}

/**
 * The collector's address for analytics.js: the configured public URL when there is one
 * (`PIXELTRAIL_PUBLIC_URL` / `public_url`), so no header can change an answer that CDNs
 * cache; else the request's own host and scheme, under the path prefix it came by.
 */
function settingsApiBase(config: AppConfig, req: FastifyRequest): ApiBase {
  if (config.public_url_configured) {
    const url = new URL(config.public_url);
    const path = url.pathname.replace(/\/+$/, '');
    return { host: `${url.host}${path}`, protocol: url.protocol.slice(0, -1), fromRequest: false };
  }
  const prefix = config.path_prefix;
  const viaPrefix = prefix !== '' && req.originalUrl.startsWith(`${prefix}/`);
  return {
    host: `${req.host}${viaPrefix ? prefix : ''}`,
    protocol: req.protocol,
    fromRequest: true,
  };
}

/**
 * What analytics.js loads from its CDN (`{cdnURL}/v1/projects/{writeKey}/settings`): only
 * the Segment.io destination, pointed back at this collector, so
 * `cdnURL: 'https://shop.example/metrics-xyz'` is the whole browser setup.
 */
function cdnSettings(writeKey: string, api: ApiBase): Obj {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${api.host}/v1`,
        protocol: api.protocol,
      },
    },
    plan: { track: { __default: { enabled: true } } },
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    remotePlugins: [],
  };
}
