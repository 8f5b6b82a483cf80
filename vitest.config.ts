import { defineConfig } from 'vitest/config';

// Two projects (issue 21). `unit` is every test beside the code in src/: plain functions and
// in-memory stores, run in parallel threads. `integration` is test/**: real servers, child
// processes, PostgreSQL and fault injection, whose timing bounds are load-sensitive, so its
// files run one at a time, in one forked process that keeps its module cache from file to
// file: a fresh process per file imported its modules anew before each of the 140 files
// (the whole project 844 s; 511 s with the cache kept, the same 1,070 tests passing). What
// that asks of a file is in docs/testing.md.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Only the unit project uses threads. The pool reads isolation from here (set inside the
    // project alone, every file still got a fresh context: 39 s instead of 11.5 s on 2 cores).
    poolOptions: { threads: { isolate: false }, forks: { isolate: false } },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          pool: 'threads',
          fileParallelism: true,
          // Unit tests hold no module state between files (no mocks, no globals), so the
          // workers keep their module cache: each source module is loaded once per worker.
          // The thread pool reads it from poolOptions (the top-level flag alone left every
          // file in a fresh context: 39 s instead of 11.5 s on this 2-core box).
          isolate: false,
          // The unit files run first, alone; the integration files start once they are done.
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
