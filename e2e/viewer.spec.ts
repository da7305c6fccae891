/** A viewer sees devices and history but can open no terminal — not in the page, not by script. */
import { ConsoleCloseCode } from '../shared/console-protocol.js';
import { apiLogin } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

test.beforeEach(async ({ page, stack }) => {
  await apiLogin(page.request, stack.viewer);
});

test('a viewer sees the devices and the history but no working Connect', async ({ page, stack }) => {
  const { devices } = stack;
  await page.goto('/');
  const row = page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: devices.shell, exact: true }) });
  await expect(row).toContainText('Online');
  await expect(page.getByRole('button', { name: `Connect to ${devices.shell}` })).toBeDisabled();
  await expect(page.getByRole('link', { name: `Connect to ${devices.shell}` })).toHaveCount(0);

  await page.getByRole('link', { name: 'History', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
  await expect(page.getByLabel('Device', { exact: true })).toBeVisible();
  await expect(page.getByRole('table').or(page.getByText('No streams yet'))).toBeVisible();
});

test('the server refuses a terminal socket a viewer opens by script', async ({ page, stack }) => {
  await page.goto('/');
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  const closed = await page.evaluate(
    (deviceId) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`wss://${location.host}/api/terminal?deviceId=${encodeURIComponent(deviceId)}`);
        ws.addEventListener('close', (ev) => resolve(ev.code));
      }),
    stack.devices.shell,
  );
  expect(closed).toBe(ConsoleCloseCode.Forbidden);
});

test('a viewer who goes to a terminal page by URL is told they may not open terminals', async ({ page, stack }) => {
  await page.goto(`/terminal/${stack.devices.shell}`);
  await expect(page.getByRole('status')).toContainText('Not allowed');
});
