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

test('a viewer’s terminal page opens no terminal socket, shows no Reconnect, Files, Copy or terminal, says once why, and leads (focused) to the device’s sessions in History', async ({ page, stack }) => {
  const device = stack.devices.shell;
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`/terminal/${device}`);
  const view = page.getByRole('region', { name: 'No terminal for viewers' });
  await expect(view).toContainText('Your role is viewer: you can see this device and replay its recorded sessions, but not open a terminal or move files.');
  // One statement: nothing about reconnecting or input, which a viewer never has.
  await expect(page.getByRole('main')).not.toContainText(/reconnect|input is off|not allowed/i);
  for (const name of ['Reconnect', 'Reattach', 'Files', 'Copy']) await expect(page.getByRole('button', { name }), name).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Terminal', exact: true })).toHaveCount(0);
  await expect(view.getByRole('link', { name: 'Back to devices' })).toHaveAttribute('href', '/');
  const history = view.getByRole('link', { name: 'Replay its sessions in History' });
  await expect(history).toBeFocused();
  expect(sockets.filter((u) => u.includes('/api/terminal'))).toEqual([]);

  await history.click();
  await expect(page).toHaveURL(`/history?device=${device}`);
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
  await expect(page.getByLabel('Device', { exact: true })).toHaveValue(device);
});
