import { defineConfig } from 'vitest/config';

// Two projects (issue 21). `unit` is every test beside the code in src/: plain functions and
// in-memory stores, run in parallel threads. `integration` is test/**: real servers, child
// processes, PostgreSQL and fault injection, whose timing bounds are load-sensitive, so its
// files run one at a time in forked processes as before.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
