import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startChild, writeConfig } from '../helpers/child-server.js';
import { runLoad } from '../helpers/http-load.js';
import { postEvents, purchase, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Process ids of the children of `pid` (the cluster's workers). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('serve --workers N', () => {
  it('K01 with SQLite it refuses to start, and says why', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, testConfig('http://127.0.0.1:9/hook'));
    const out = await runCli(['serve', '--workers', '2'], {
      PIXELTRAIL_CONFIG: cfg,
      PIXELTRAIL_DATA: `${dir}/data`,
      PORT: '18081',
      HOST: '127.0.0.1',
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--workers needs PostgreSQL/);
  });

  it.skipIf(!hasPostgres)(
    'K02 two workers on one port and one PostgreSQL: both serve, a dead worker is replaced, SIGTERM stops all with nothing lost',
    async () => {
      const db = await freshPostgresDatabase();
      cleanups.push(db.drop);
      const dir = tempDir();
      const cfg = writeConfig(dir, testConfig('http://127.0.0.1:9/hook'));
      const srv = await startChild(cfg, `${dir}/data`, undefined, { DATABASE_URL: db.url }, [
        '--workers',
        '2',
      ]);
      cleanups.push(() => srv.stop());
      const primary = srv.child.pid as number;
      await waitFor(() => childrenOf(primary).length === 2, 30_000);

      const hits = await runLoad(srv.base, 400, 8, (i) => ({
        path: `/i?env_id=env_t&dest_id=dsp1&imp_id=K-${i}`,
        headers: { 'user-agent': UA },
      }));
      expect(hits.every((h) => h.status === 200)).toBe(true);
      expect((await postEvents(srv.base, [purchase('k-1')])).body.accepted).toBe(1);

      const [victim] = childrenOf(primary);
      process.kill(victim, 'SIGKILL');
      await waitFor(() => {
        const now = childrenOf(primary);
        return now.length === 2 && !now.includes(victim);
      }, 30_000);
      const after = await runLoad(srv.base, 100, 4, (i) => ({
        path: `/i?env_id=env_t&dest_id=dsp1&imp_id=K2-${i}`,
        headers: { 'user-agent': UA },
      }));
      expect(after.every((h) => h.status === 200)).toBe(true);

      await srv.stop();
      expect(srv.child.exitCode).toBe(0);
      expect(childrenOf(primary)).toEqual([]);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const { rows } = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM touches');
      await c.end();
      // The killed worker may have lost the hits of its last flush interval; none else.
      expect(Number(rows[0].n)).toBeGreaterThanOrEqual(400);
    },
    120_000,
  );
});
