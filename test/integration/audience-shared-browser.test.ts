import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, postEvents, startedPerTest, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

// A browser shared by two users (a family's computer): it belongs to the user seen last on
// it, but both users' persons hold its purchase. A full evaluation reads persons a page at a
// time and writes each page's answers in one statement per kind: the shared browser id is
// one row, its own person's answer (on PostgreSQL a row given twice fails the statement).

const startPixeltrail = startedPerTest();
const hasPostgres = await postgresAvailable();

const NOW = Math.floor(Date.now() / 1000);
const event = (event_name: string, user: Record<string, string>, ago_s: number) => ({
  event_id: `${event_name}-${JSON.stringify(user)}-${ago_s}`,
  event_name,
  event_time: NOW - ago_s,
  env_id: 'env_t',
  user,
  ...(event_name === 'Purchase' ? { properties: { value: 10, currency: 'EUR' } } : {}),
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`a shared browser on ${kind}`, () => {
    let db: Awaited<ReturnType<typeof freshPostgresDatabase>> | undefined;
    beforeAll(async () => {
      if (kind === 'postgres') db = await freshPostgresDatabase();
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('AU20 both users of a shared browser are buyers; the browser answers for its latest user', async () => {
      const raw = db
        ? { ...testConfig('http://127.0.0.1:9/hook'), database_url: db.url }
        : testConfig('http://127.0.0.1:9/hook');
      const { base } = await startPixeltrail(raw, tempDir());
      const posted = await postEvents(base, [
        event('Login', { anonymous_id: 'shared', user_id: 'mum' }, 3_000),
        event('Login', { anonymous_id: 'shared', user_id: 'dad' }, 2_000),
        event('Purchase', { anonymous_id: 'shared' }, 1_000),
        event('Login', { anonymous_id: 'own', user_id: 'kid' }, 900),
        event('PageView', { anonymous_id: 'own', user_id: 'kid' }, 800),
      ]);
      expect(posted.body.errors).toEqual([]);
      const created = await admin(base, '/api/audiences', 'POST', {
        env_id: 'env_t',
        name: 'Buyers',
        rules: { all: [{ event: 'Purchase', within: '1d' }] },
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const member = async (q: string) =>
        (await admin(base, `/api/audiences/${id}/members?${q}`)).body.member;
      expect(await member('user_id=mum')).toBe(true);
      expect(await member('user_id=dad')).toBe(true);
      expect(await member('anonymous_id=shared')).toBe(true);
      expect(await member('user_id=kid')).toBe(false);
      expect((await admin(base, `/api/audiences/${id}`)).body.size).toBe(2);
    });
  });
}
