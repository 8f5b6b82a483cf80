import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { seedDemo, seededRandom } from '../../src/seed/demo-seed.js';
import { newId } from '../../src/server.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { tempDir, testConfig } from '../helpers/pixeltrail.js';

const NOW_MS = Date.parse('2026-11-29T12:00:00Z');

describe('pixeltrail seed --demo', () => {
  it('SD01 demo traffic goes through attribution: reports add up, nothing is left to send', async () => {
    const { config } = parseConfig(testConfig('http://127.0.0.1:9/hook'), { data_dir: tempDir() });
    const store = openSqliteStore(config.data_dir);
    await store.migrate();
    try {
      const steps: string[] = [];
      await seedDemo(store, {
        env: config.environments[0],
        touches: 5000,
        conversions: 600,
        days: 30,
        nowMs: NOW_MS,
        random: seededRandom(1),
        newId,
        progress: (phase, done, total) => steps.push(`${phase} ${done}/${total}`),
      });
      expect(steps.at(-1)).toBe('purchases 600/600');
      const counts = await store.counts('env_t');
      expect(counts).toMatchObject({ touches: 5000, events: 600, conversions: 600 });
      // About 70 % follow one of the buyer's touches inside the windows.
      expect(counts.attributed).toBeGreaterThan(300);
      expect(counts.attributed).toBeLessThan(600);
      expect(counts.outbox_pending).toBe(0);
      const [total] = await store.reportCounts({
        env_id: 'env_t',
        from_s: NOW_MS / 1000 - 31 * 86_400,
        to_s: NOW_MS / 1000 + 86_400,
        group_by: 'total',
        view: 'deduplicated',
      });
      expect(total.impressions + total.clicks).toBe(5000);
      expect(total.conversions).toBe(counts.attributed);
      expect(total.cost.reduce((t, c) => t + c.amount, 0)).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('SD02 the CLI refuses to seed without --demo', () => {
    let code = 0;
    try {
      execFileSync('node', ['dist/cli.js', 'seed'], {
        env: { ...process.env, PIXELTRAIL_DATA: tempDir() },
        stdio: 'pipe',
      });
    } catch (e) {
      code = (e as { status: number }).status;
    }
    expect(code).toBe(2);
  });
});
