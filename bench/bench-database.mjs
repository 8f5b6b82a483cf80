// A fresh PostgreSQL database for one bench run, on the server of `adminUrl`. Shared by
// run.mjs and busy-address.mjs.
import pg from 'pg';

/** Makes database `name` anew (dropping one left by a run that died); `drop` removes it. */
export async function createBenchDatabase(adminUrl, name = `pixeltrail_bench_${process.pid}`) {
  const run = async (sql) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
