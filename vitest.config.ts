import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Playwright specs live in e2e/ and are run by Playwright, not vitest.
    include: ['web/src/**/*.test.ts', 'shared/**/*.test.ts', 'server/**/*.test.ts', 'device/**/*.test.ts', 'cli/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
