import type { FastifyInstance } from 'fastify';
import { webhookSignature } from '../../delivery/destinations/webhook.js';
import type { Services } from '../services.js';

/** Deliveries the demo receiver keeps for `GET /demo/webhook`. */
const DEMO_KEEP = 50;

/**
 * In demo mode the server is its own webhook receiver, so a first run shows the whole loop
 * (pixel → conversion → signed delivery) with nothing else installed.
 */
export function demoRoutes(app: FastifyInstance, s: Services): void {
  const received: unknown[] = [];
  const secret = s.config.environments[0]?.destinations[0]?.settings.secret;
  app.post('/demo/webhook', async (req, reply) => {
    const raw = JSON.stringify(req.body);
    const verified =
      typeof secret === 'string' &&
      req.headers['x-pixeltrail-signature'] === webhookSignature(secret, raw);
    received.unshift({
      at: new Date(s.nowMs()).toISOString(),
      verified,
      idempotency_key: req.headers['idempotency-key'],
      body: req.body,
    });
    received.length = Math.min(received.length, DEMO_KEEP);
    req.log.info(
      { idempotency_key: req.headers['idempotency-key'], verified },
      'demo webhook received a conversion',
    );
    return reply.status(200).send({ ok: true });
  });
  app.get('/demo/webhook', async () => ({ received }));
}
