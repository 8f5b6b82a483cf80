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
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
});
