import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findDestination } from '../../config/find-destination.js';
import { sendTestConversion, shortReport } from '../../delivery/test-conversion.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

/** The built dashboard (`npm run build` → dist/ui), from src/http/admin or dist/http/admin. */
export const UI_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'dist',
  'ui',
);

const DestParams = Type.Object({ env_id: Type.String(), dest_id: Type.String() });
/** `confirm=real`: send even where the platform has no test channel (a real conversion). */
const TestQuery = Type.Object({ confirm: Type.Optional(Type.Literal('real')) });
const PAUSED_FROM_UI = 'paused from the dashboard';

/**
 * The dashboard: its static files at `/ui/`, and the admin endpoints only it needs
 * (`GET /api/setup`, pausing a destination, sending it a test conversion).
 */
export function dashboardApi(app: FastifyInstance, s: Services): void {
  if (existsSync(path.join(UI_DIR, 'index.html'))) {
    app.register(fastifyStatic, {
      root: UI_DIR,
      prefix: '/ui/',
      // Hashed asset names are immutable; index.html must be fresh after an upgrade.
      setHeaders: (res, file) =>
        res.header(
          'cache-control',
          file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
        ),
    });
    app.get('/ui', (_req, reply) => reply.redirect('/ui/'));
  } else {
    app.get('/ui/*', async () => {
      throw new HttpError(503, 'ui_not_built', 'the dashboard is not built: run npm run build');
    });
  }

  app.register(async (api) => {
    const destination = (env_id: string, dest_id: string) => {
      const env = s.environment(env_id);
      if (!env || !findDestination(env, dest_id))
        throw new HttpError(404, 'not_found', `no destination ${env_id}/${dest_id}`);
      return env;
    };

    api.get(
      '/api/setup',
      {
        schema: {
          summary:
            'what the dashboard needs to show the setup snippets: public URL, environments, write keys',
        },
      },
      async () => ({
        public_url: s.config.public_url,
        environments: s.config.environments.map((e) => ({
          id: e.id,
          name: e.name,
          // The admin already holds the config; the snippets need the key to be copy-ready.
          write_key: e.write_key,
          click_url_hosts: e.click_url_hosts,
          destinations: e.destinations.map((d) => ({ id: d.id, type: d.type, events: d.events })),
        })),
      }),
    );

    api.post<{ Params: Static<typeof DestParams> }>(
      '/api/destinations/:env_id/:dest_id/pause',
      {
        schema: {
          summary: 'pause a destination (deliveries wait until it is resumed)',
          params: DestParams,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.params;
        destination(env_id, dest_id);
        await s.store.setDestinationPaused(env_id, dest_id, true, PAUSED_FROM_UI, s.nowMs());
        return { env_id, dest_id, paused: true };
      },
    );

    api.post<{ Params: Static<typeof DestParams>; Querystring: Static<typeof TestQuery> }>(
      '/api/destinations/:env_id/:dest_id/test',
      {
        schema: {
          summary: 'send the destination one test purchase and answer what it replied',
          params: DestParams,
          querystring: TestQuery,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.params;
        const report = await sendTestConversion(
          destination(env_id, dest_id),
          dest_id,
          s.send,
          s.nowMs(),
          { confirmReal: req.query.confirm === 'real' },
        );
        if ('needs_confirmation' in report)
          throw new HttpError(409, 'confirmation_required', report.message);
        return shortReport(report);
      },
    );
  });
}
