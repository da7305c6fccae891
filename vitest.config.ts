import { defineConfig } from 'vitest/config';

/** The suites a cluster must pass as well as one hub: they run a second time against two nodes behind haproxy. */
const CORE_SUITES = ['test/tunnel.test.ts', 'test/ssh.test.ts', 'test/azure-client.test.ts', 'test/errors.test.ts', 'test/auth.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'single',
          // Playwright specs live in e2e/ and are run by Playwright, not vitest.
          include: ['web/src/**/*.test.ts', 'shared/**/*.test.ts', 'server/**/*.test.ts', 'device/**/*.test.ts', 'cli/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CORE_SUITES,
          // test/harness.ts startHub starts a two-node cluster (PostgreSQL, NATS, haproxy) for these.
          env: { DS_TEST_TARGET: 'cluster' },
        },
      },
    ],
  },
});
