/** What the terminal page says when there is no shell to be had: rejected, offline, disabled, unknown device. */
import { apiLogin, openTerminal, typeLine } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

/** The hub runs with --terminal-connect-timeout 3. */
const CONNECT_TIMEOUT_MS = 3000;
/** Room for a busy two-core machine: page load, the BFF's request to the hub, the close. */
const SLACK_MS = 3000;

test.beforeEach(async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
});

test('a device that refuses the shell stream is reported as a rejection with its reason', async ({ page, stack }) => {
  await page.goto(`/terminal/${stack.devices.rejects}`);
  const status = page.getByRole('status');
  await expect(status).toContainText('rejected');
  await expect(status).toContainText('shell');
  await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled();
});

test('an offline device is reported within the connect timeout', async ({ page, stack }) => {
  const { offline } = stack.devices;
  // Timed from the moment the page opens its terminal socket, i.e. asks for the device.
  const socketOpened = page.waitForEvent('websocket').then(() => Date.now());
  await page.goto(`/terminal/${offline}`);
  const status = page.getByRole('status');
  await expect(status).toContainText('offline', { timeout: CONNECT_TIMEOUT_MS + SLACK_MS });
  const elapsed = Date.now() - (await socketOpened);
  console.log(`offline device reported ${elapsed} ms after the terminal socket opened (connect timeout ${CONNECT_TIMEOUT_MS} ms)`);
  expect(elapsed).toBeLessThan(CONNECT_TIMEOUT_MS + SLACK_MS);
  await expect(status).toContainText(offline);
  await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled();
});

test('an unknown device is reported as such', async ({ page }) => {
  await page.goto('/terminal/no-such-device-e2e');
  await expect(page.getByRole('status')).toContainText(/no such device|no device/i);
});

test('the status bar says "Recorded" only once a session is open: not for a rejecting, an offline, a disabled or an unknown device; it does once the shell connects, and still after the shell exits', async ({ page, stack }) => {
  const recorded = page.getByText(/^\W*Recorded\b/);
  const { rejects, offline, disabled, shell } = stack.devices;
  const noSession: Array<[string, RegExp]> = [
    [rejects, /rejected the terminal/],
    [offline, /is offline/],
    [disabled, /is disabled/],
    ['no-such-device-e2e', /no such device|no device/i],
  ];
  for (const [device, said] of noSession) {
    await page.goto(`/terminal/${device}`);
    // The page's last word on it: no session opened, so nothing was recorded.
    await expect(page.getByRole('status')).toContainText(said);
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
    await expect(recorded, device).toHaveCount(0);
  }

  await openTerminal(page, shell);
  await expect(recorded).toBeVisible();
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  await expect(recorded).toBeVisible();
});
