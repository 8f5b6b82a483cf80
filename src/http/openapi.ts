import { createRequire } from 'node:module';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/** The version the description carries: the package's (src/http and dist/http alike). */
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The three parts of the API, as `GET /openapi.json` and docs/endpoints.md group them. */
const TAGS = [
  {
    name: 'collect',
    description:
      'What browsers, ad servers, apps and shop backends send: pixels, the click redirect, ' +
      'the tag and its beacon, the events API, Segment and Snowplow.',
  },
  {
    name: 'admin',
    description:
      'The admin API under /api/, behind the admin token (`Authorization: Bearer ' +
      '<admin_token>`, current or previous) or the dashboard session cookie with ' +
      '`X-CSRF-Token` on writes; only `/api/session` is open.',
  },
  { name: 'system', description: 'Liveness, readiness, metrics and this description.' },
];

/** Routes that are no part of the API: the dashboard's files and the demo's receiver. */
const UNDESCRIBED = /^\/(ui|demo)(\/|$)/;
const SYSTEM = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);
/** Segment's server-side calls, which send the write key as the Basic user name. */
const SEGMENT_BASIC = /^\/v1\/(track|identify|page|screen|alias|group|batch|import)$/;

/**
 * A route option for routes whose schema describes what they read without refusing anything:
 * a pixel or the tag answers an `<img>` or `<script>`, and its problems travel in a header.
 * (The `/i` fast path in front of Fastify sees no schema either.)
 */
export const describedOnly: { validatorCompiler: FastifySchemaCompiler<unknown> } = {
  validatorCompiler: () => () => true,
};

/**
 * Summaries of the collect routes that carry none in their own schema yet (theirs wins): the
 * lines of docs/endpoints-guide.md, so the reference says what each is for.
 */
const SUMMARIES: Record<string, string> = {
  'GET /c':
    'click redirect: records the click and answers 302 to a signed or allowed URL, else 400',
  'GET /p': 'event pixel for emails and no-JS pages: always a GIF',
  'POST /e': "the tag's beacon: one event or {events:[…]}, JSON or text/plain; always 204",
  'POST /v1/events':
    'server API: {events:[…]} (1–1000), answered after commit with accepted, duplicates and ' +
    'each bad field (good events are kept whatever the bad ones)',
  'GET /v1/projects/:key/settings': "the settings Segment's analytics.js loads from its CDN URL",
  'POST /com.snowplowanalytics.snowplow/tp2': 'Snowplow tracker protocol, POST payload_data',
  'GET /com.snowplowanalytics.snowplow/i': 'Snowplow tracker protocol, GET pixel',
};
for (const call of ['track', 'identify', 'page', 'screen', 'alias', 'group', 'batch', 'import'])
  SUMMARIES[`POST /v1/${call}`] = `Segment HTTP Tracking API: ${call}`;
for (const [short, call] of Object.entries({
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  a: 'alias',
  g: 'group',
  b: 'batch',
}))
  SUMMARIES[`POST /v1/${short}`] = `Segment analytics.js in browsers: ${call} (text/plain, CORS)`;

/** The part of the API a route belongs to, by its path. */
export function tagOf(url: string): 'collect' | 'admin' | 'system' {
  if (url.startsWith('/api/')) return 'admin';
  return SYSTEM.has(url) ? 'system' : 'collect';
}

/** Who may call a route, by its path (admin auth is one hook for all of /api/: auth.ts). */
function securityOf(url: string): FastifySchema['security'] {
  if (url === '/api/session') return [];
  if (url.startsWith('/api/')) return [{ adminToken: [] }, { session: [] }];
  if (url === '/v1/events') return [{ writeKey: [] }];
  if (SEGMENT_BASIC.test(url)) return [{ segmentWriteKey: [] }];
  return undefined;
}

/**
 * `@fastify/swagger` over the routes' own TypeBox schemas: each route is tagged and given
 * its callers by its path here, so a module adding a route describes only what it reads.
 */
export function openApiOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      info: {
        title: 'pixeltrail',
        version,
        description:
          'Self-hostable tracking pixel and conversion-attribution server. Errors are JSON: ' +
          '`{"error":{"code","message"}}`, and a 400 adds `errors:[{field,message}]` naming ' +
          'each bad field.',
      },
      tags: TAGS,
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'the admin token' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'pt_session',
            description: 'the dashboard session from POST /api/session',
          },
          writeKey: { type: 'http', scheme: 'bearer', description: "the environment's write key" },
          segmentWriteKey: {
            type: 'http',
            scheme: 'basic',
            description: 'the write key as the user name, no password',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const security = securityOf(url);
      // CORS preflights answer for the route beside them; they are no endpoint of their own.
      const methods = [route.method].flat();
      const hidden = UNDESCRIBED.test(url) || methods.includes('OPTIONS');
      const summary = schema?.summary ?? SUMMARIES[`${methods[0]} ${url}`];
      return {
        url,
        schema: {
          ...schema,
          tags: schema?.tags ?? [tagOf(url)],
          ...(summary ? { summary } : {}),
          ...(security ? { security } : {}),
          ...(hidden ? { hide: true } : {}),
        },
      };
    },
  };
}
