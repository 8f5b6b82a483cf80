import { readdirSync } from 'node:fs';
import type { MigrationProvider } from 'kysely';
import type { Dialect, NumberedMigration } from './migrations/define.js';

export type { Dialect } from './migrations/define.js';

/**
 * The schema steps are the files `migrations/NNNN-name.ts` (`.js` once built): the list and
 * its order come from the file numbers alone, so adding a step is adding the next file.
 */
const STEP_FILE = /^(\d{4})-[a-z0-9-]+\.(?:js|ts)$/;
const DIR = new URL('./migrations/', import.meta.url);

/** The step files in the order they apply. */
export function migrationFiles(): string[] {
  return readdirSync(DIR)
    .filter((f) => STEP_FILE.test(f))
    .sort();
}

let loading: Promise<NumberedMigration[]> | undefined;

/**
 * Every step, in file order. Kysely applies steps in the order of their recorded names, so
 * a step whose name would sort before its predecessor's is refused here, before it can run
 * out of order on a fresh database.
 */
export function loadMigrations(): Promise<NumberedMigration[]> {
  loading ??= (async () => {
    const steps: NumberedMigration[] = [];
    for (const file of migrationFiles()) {
      const mod = (await import(new URL(file, DIR).href)) as { default: NumberedMigration };
      const prev = steps.at(-1);
      if (prev && prev.name.localeCompare(mod.default.name) >= 0) {
        throw new Error(
          `migration ${file} is named ${mod.default.name}, which does not sort after ${prev.name}`,
        );
      }
      steps.push(mod.default);
    }
    return steps;
  })();
  return loading;
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const steps = await loadMigrations();
      return Object.fromEntries(steps.map((s) => [s.name, s.build(dialect)]));
    },
  };
}
