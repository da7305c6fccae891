/**
 * No key, token or connection string ever reaches the browser: not in the built console
 * (web/dist), not in any API answer or socket status text. Every test already checks what its own
 * page received (fixtures/test.ts); this spec walks every screen once more, and the global setup's
 * teardown scans the whole run's record of what pages received (global-setup.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/harness.js';
import { apiLogin, openTerminal, tag, typeLine, waitForTerminal } from './fixtures/console.js';
import { findLeaks } from './fixtures/secrets.js';
import { expect, test } from './fixtures/test.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

test('the built console contains no secret', ({ stack }) => {
  const files = filesUnder(join(ROOT, 'web', 'dist'));
  expect(files.some((f) => f.endsWith('index.html'))).toBe(true);
  const leaks = files.flatMap((f) => findLeaks(readFileSync(f, 'latin1'), stack.secrets).map((l) => `${f}: ${l}`));
  expect(leaks).toEqual([]);
});

test('no answer the browser gets on any screen carries a secret', async ({ page, stack }) => {
  const { admin, devices } = stack;
  await apiLogin(page.request, admin);
  await page.goto('/');
  await expect(page.getByRole('rowheader', { name: devices.shell, exact: true })).toBeVisible();
  await openTerminal(page, devices.shell);
  const word = `secret-check-${tag()}`;
  await typeLine(page, `echo ${word}`);
  await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  for (const id of [devices.rejects, devices.offline]) {
    await page.goto(`/terminal/${id}`);
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled({ timeout: 15_000 });
  }
  await page.getByRole('link', { name: 'History', exact: true }).click();
  await expect(page.getByRole('table')).toBeVisible();
  // The bodies of this page are checked by the fixture when the test ends.
});
