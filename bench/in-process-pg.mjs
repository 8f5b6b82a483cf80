// What the in-process PostgreSQL benches share (recompute-linked.mjs, batch-strong-keys.mjs):
// a fresh, migrated store of one environment, and the events and clicks they seed it with.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createBenchDatabase } from './bench-database.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** A module of the build (`npm run build` first). */
export const dist = (file) => import(pathToFileURL(path.join(ROOT, 'dist', file)).href);

/**
 * A migrated PostgreSQL store on a fresh database `name` of the server at `pgUrl`, with
 * `environment` (a config entry) parsed; `close` closes the store and drops the database.
 */
export async function openBenchStore(pgUrl, name, environment) {
  const { openPostgresStore } = await dist('store/postgres/open-postgres.js');
  const { parseConfig } = await dist('config/config-parse.js');
  const env = parseConfig({ environments: [environment] }, { data_dir: ROOT }).config
    .environments[0];
  const db = await createBenchDatabase(pgUrl, name);
  const store = openPostgresStore(db.url);
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    await db.drop();
    throw e;
  }
  return {
    store,
    env,
    close: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/** A server-sent event of `env_id` with ads consent; a Purchase of 10 EUR. */
export const serverEvent = (env_id, event_name, event_id, event_time, user) => ({
  env_id,
  event_name,
  event_id,
  event_time,
  source: 'server',
  user,
  properties: event_name === 'Purchase' ? { value: 10, currency: 'EUR' } : {},
  consent: { ads: true, analytics: true },
  warnings: [],
});

/** A touch of dsp1's campaign `campaign_id` under the browser id `anonymous_id` alone. */
export const browserTouch = (env_id, kind, touch_id, campaign_id, time, anonymous_id) => ({
  env_id,
  kind,
  touch_id,
  dest_id: 'dsp1',
  campaign_id,
  creative_id: null,
  placement_id: null,
  time,
  anonymous_id,
  user_id: null,
  ip: null,
  user_agent: null,
});
