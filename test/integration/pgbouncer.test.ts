import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { HAS_PGBOUNCER, type PgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';
import {
  admin,
  postEvents,
  purchase,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

describe.skipIf(!HAS_PGBOUNCER || !(await postgresAvailable()))(
  'PostgreSQL behind PgBouncer in transaction mode',
  () => {
    let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    let bouncer: PgBouncer;
    let hook: Receiver;
    let server: Server | undefined;
    beforeAll(async () => {
      db = await freshPostgresDatabase();
      // Two server connections for pixeltrail's pool of ten: each transaction may land on
      // another server connection than the client's last one.
      bouncer = await startPgBouncer(db.url, 2);
      hook = await startReceiver();
    });
    afterAll(async () => {
      await server?.close();
      await bouncer?.stop();
      await hook?.close();
      await db?.drop();
    });

    it('PB01 with ?pgbouncer=true the pooler carries migrations, pixel hits, event batches and deliveries', async () => {
      const raw = {
        ...testConfig(`${hook.url}/hook`),
        database_url: `${bouncer.url}?pgbouncer=true`,
      };
      const started = await startPixeltrail(raw, tempDir());
      server = started.server;
      const { base } = started;
      const hit = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-PB01`, {
        headers: { 'user-agent': UA },
      });
      expect(hit.status).toBe(200);
      // Requests side by side: up to 4 event transactions at once on PostgreSQL, each
      // running the ingest statements many times.
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, r) =>
          postEvents(
            base,
            Array.from({ length: 25 }, (_, i) =>
              purchase(`pb01-${r}-${i}`, { properties: { value: 1, currency: 'EUR' } }),
            ),
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      const stats = await waitFor(async () => {
        const s = (await admin(base, '/api/stats')).body;
        return s.events === 200 && s.impressions === 1 ? s : null;
      });
      expect(stats.duplicates).toBe(0);
      // The same events again: every one a duplicate, found through the pooler.
      const again = await postEvents(base, [purchase('pb01-0-0'), purchase('pb01-7-24')]);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });
      // Attributed to the impression and delivered by the worker, also through the pooler.
      await waitFor(() => hook.got.some((g) => JSON.parse(g.body).event_id === 'pb01-0-0'));
    });
  },
);
