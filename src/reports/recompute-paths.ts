import type { EnvironmentConfig } from '../domain/config-types.js';
import { pathRules, rebuildPaths } from '../ingest/conversion-paths.js';
import { type AppLookup, eventExclusion } from '../ingest/eligibility.js';
import type { Store } from '../store/store.js';

/** Conversions rebuilt per transaction. */
const PAGE_ROWS = 200;

/**
 * Rebuilds the stored paths of every conversion whose event falls in [from_s, to_s), from
 * the touches stored now and the environment's current windows, so reports re-credit the
 * range after a rule change. Reports `done` of `total` after each page. `apps` (the config's)
 * tells which events come from iOS apps, whose IP matches stay out of their paths (issue 25).
 */
export async function recomputePaths(
  store: Store,
  env: EnvironmentConfig,
  from_s: number,
  to_s: number,
  nowMs: () => number,
  progress: (done: number, total: number) => void = () => {},
  apps?: AppLookup,
): Promise<number> {
  const total = await store.countConversionEvents(env.id, from_s, to_s);
  let done = 0;
  let after: string | null = null;
  progress(0, total);
  for (;;) {
    const page = await store.conversionEvents(env.id, from_s, to_s, after, PAGE_ROWS);
    if (page.length === 0) break;
    await store.ingest(async (tx) => {
      const items = page.map(({ conversion_id, stored }) => {
        const e = stored.event;
        const dests = env.destinations.filter((d) => d.events.includes(e.event_name));
        const rules = pathRules(dests, eventExclusion(e, env, apps));
        return { conversion_id, event_pk: stored.pk, e, rules };
      });
      const paths = await rebuildPaths(tx, items, nowMs());
      // On PostgreSQL the page's paths are written in one set-wise statement, as the batch
      // ingest writes its conversions' (no conversion or delivery row with them): one round
      // trip a path was most of the demo store's 74 s recompute.
      if (tx.setWise)
        await tx.setWise.recordConversions(
          paths.map((path) => ({ path, conversions: [], deliveries: [] })),
        );
      else for (const path of paths) await tx.putConversionPath(path);
    });
    done += page.length;
    after = page[page.length - 1].conversion_id;
    progress(Math.min(done, total), total);
  }
  return done;
}

const BAR_CELLS = 30;

/** A progress bar for a terminal (redrawn in place), or plain lines every 10 % otherwise. */
export function progressBar(
  out: NodeJS.WriteStream,
  label: string,
): (done: number, total: number) => void {
  let lastTenth = -1;
  return (done, total) => {
    const frac = total === 0 ? 1 : done / total;
    if (out.isTTY) {
      const full = Math.round(frac * BAR_CELLS);
      out.write(`\r${label} [${'#'.repeat(full)}${'.'.repeat(BAR_CELLS - full)}] ${done}/${total}`);
      if (done >= total) out.write('\n');
      return;
    }
    const tenth = Math.floor(frac * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      out.write(`${label} ${Math.round(frac * 100)}% (${done}/${total})\n`);
    }
  };
}
