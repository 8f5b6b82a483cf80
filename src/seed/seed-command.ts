import { ConfigError } from '../config/config-load.js';
import type { AppConfig } from '../domain/config-types.js';
import { newId } from '../server.js';
import type { Store } from '../store/store.js';
import { seedDemo, seededRandom } from './demo-seed.js';

const DEMO_TOUCHES = 1_000_000;
const DEMO_CONVERSIONS = 100_000;
const DEMO_DAYS = 30;
const DEMO_SEED = 20_261_129;
const BAR_CHARS = 30;

function count(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--${name} must be a whole number`);
  return n;
}

/** A progress bar on stderr, redrawn in place. */
function progressBar(phase: string, done: number, total: number): void {
  const share = total === 0 ? 1 : done / total;
  const filled = Math.round(share * BAR_CHARS);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_CHARS - filled)}`;
  process.stderr.write(
    `\r${phase.padEnd(10)} [${bar}] ${String(Math.round(share * 100)).padStart(3)}% ${done}/${total}`,
  );
  if (done >= total) process.stderr.write('\n');
}

/** `pixeltrail seed --demo`: demo traffic for the dashboard, through the real ingest path. */
export async function seedCommand(
  store: Store,
  config: AppConfig,
  values: { demo?: boolean; env?: string; touches?: string; conversions?: string },
): Promise<void> {
  if (!values.demo) throw new ConfigError('usage: pixeltrail seed --demo [--env ID]');
  const env = config.environments.find((e) => e.id === (values.env ?? config.environments[0].id));
  if (!env) throw new ConfigError(`no environment ${values.env}`);
  const r = await seedDemo(store, {
    env,
    touches: count(values.touches, 'touches', DEMO_TOUCHES),
    conversions: count(values.conversions, 'conversions', DEMO_CONVERSIONS),
    days: DEMO_DAYS,
    nowMs: Date.now(),
    random: seededRandom(DEMO_SEED),
    newId,
    progress: progressBar,
  });
  process.stdout.write(
    `seeded ${env.id}: ${r.touches} touches, ${r.purchases} purchases in ${(r.ms / 1000).toFixed(1)} s\n`,
  );
}
