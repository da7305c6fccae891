/**
 * Browser end-to-end tests of the operator console against the real stack (see global-setup.ts).
 * Run: node_modules/.bin/playwright test -c e2e/playwright.config.ts
 * Chromium is Debian's (/usr/bin/chromium): `npx playwright install` cannot download browsers here.
 */
import { defineConfig } from '@playwright/test';

const CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  // One stack, one device shell, two shared cores: the specs run one after another.
  fullyParallel: false,
  workers: 1,
  // A retry would let a test that fails once pass; every failure counts.
  retries: 0,
  forbidOnly: CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  outputDir: '../test-results/e2e',
  globalSetup: './global-setup.ts',
  globalTeardown: './global-teardown.ts',
  use: {
    trace: 'retain-on-failure',
    // The hub serves its console with a certificate from its own local CA.
    ignoreHTTPSErrors: true,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
});
