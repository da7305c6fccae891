/** What each device row says: connected since, why a disabled device or a viewer has no Connect; and the empty fleet's steps. */
import type { Page } from '@playwright/test';
import type { ConsoleDevice } from '../shared/console-api.js';
import { startHub, stopAll } from '../test/harness.js';
import { apiGet, apiLogin } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

const rowOf = (page: Page, id: string) => page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) });

test('an online device says "Connected since" with the time its connection began (the API\'s connectedSince), not "last seen"', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const device = await apiGet<ConsoleDevice>(page.request, `/api/devices/${stack.devices.shell}`);
  expect(device.online).toBe(true);
  expect(Date.parse(device.connectedSince ?? '')).toBeLessThanOrEqual(Date.now());
  await page.goto('/');
  const row = rowOf(page, stack.devices.shell);
  await expect(row).toContainText('Connected since');
  await expect(row).not.toContainText(/last seen|ago/i);
  await expect(row.locator('time')).toHaveAttribute('datetime', device.connectedSince ?? 'missing');
});

test('a disabled device explains itself in its row: the enable command for an admin, plain text for an operator', async ({ page, stack }) => {
  const id = stack.devices.disabled;
  await apiLogin(page.request, stack.admin);
  await page.goto('/');
  await expect(rowOf(page, id).getByRole('cell').last()).toHaveText(`Disabled — enable it with devicestreams device enable ${id}`);
  await expect(rowOf(page, id).locator('code')).toHaveText(`devicestreams device enable ${id}`);

  await page.context().clearCookies();
  await apiLogin(page.request, stack.operator);
  await page.reload();
  await expect(rowOf(page, id).getByRole('cell').last()).toHaveText('Disabled — an admin can enable it.');
  await expect(rowOf(page, id).getByRole('link', { name: `Connect to ${id}` })).toHaveCount(0);
});

test('a viewer reads beside the disabled Connect, as visible text that also describes the button, why it is unavailable', async ({ page, stack }) => {
  await apiLogin(page.request, stack.viewer);
  await page.goto('/');
  const row = rowOf(page, stack.devices.shell);
  const reason = 'Viewers cannot open terminals; an admin can give you the operator role.';
  await expect(row.getByText(reason)).toBeVisible();
  const connect = row.getByRole('button', { name: `Connect to ${stack.devices.shell}` });
  await expect(connect).toBeDisabled();
  await expect(connect).toHaveAccessibleDescription(reason);
});

test.describe('an empty fleet', () => {
  test.afterAll(stopAll);

  test('lists the steps to bring a device online: device create, shell-server, agent with --map shell=unix:…', async ({ page }) => {
    const password = 'empty-fleet-admin-pw';
    const hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: password });
    const login = await page.request.post(`${hub.url}/api/login`, { data: { username: 'admin', password }, headers: { origin: new URL(hub.url).origin } });
    expect(login.status()).toBe(200);
    await page.goto(`${hub.url}/`);
    await expect(page.getByText('No devices yet. To bring one online:')).toBeVisible();
    const steps = page.getByRole('main').getByRole('list').getByRole('listitem');
    await expect(steps).toHaveCount(3);
    await expect(steps.nth(0).locator('pre')).toHaveText('devicestreams device create pump-17\ndevicestreams device connection-string pump-17');
    await expect(steps.nth(1).locator('pre')).toHaveText('devicestreams shell-server --user pi &');
    await expect(steps.nth(2).locator('pre')).toHaveText('devicestreams agent --connection-string "$DEVICE_CONNECTION_STRING" --ca ca.pem \\\n  --map shell=unix:/run/devicestreams/shell.sock');
  });
});

test.describe('a device with a 128-character id', () => {
  test.afterAll(stopAll);

  test('is cut short with an ellipsis (the whole id in its title, text and accessible name), and every row\'s Connection, Status and Seen cells stay on screen, clear of the sticky first and last columns, at 1280 and 1024 px', async ({ page }) => {
    const password = 'long-id-admin-pw';
    const longId = 'z'.repeat(128);
    const hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: password });
    for (const id of ['pump-17', longId, 'valve-3']) await hub.service.createDevice(id);
    const login = await page.request.post(`${hub.url}/api/login`, { data: { username: 'admin', password }, headers: { origin: new URL(hub.url).origin } });
    expect(login.status()).toBe(200);

    for (const width of [1280, 1024]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(`${hub.url}/`);
      const header = page.getByRole('rowheader', { name: longId, exact: true });
      await expect(header).toBeVisible();
      const rows = page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader') });
      await expect(rows).toHaveCount(3);
      for (const row of await rows.all()) {
        const first = await row.getByRole('rowheader').boundingBox();
        const cells = row.getByRole('cell');
        const last = await cells.last().boundingBox();
        // Connection, Status, Seen: between the sticky id column and the sticky actions, inside the window.
        for (const i of [0, 1, 2]) {
          const box = await cells.nth(i).boundingBox();
          const where = `cell ${i + 1} of the row of ${(await row.getByRole('rowheader').textContent())?.slice(0, 12)}… at ${width} px`;
          expect(box, where).not.toBeNull();
          if (box === null || first === null || last === null) continue;
          expect(box.x, `${where}: left edge past the id column`).toBeGreaterThanOrEqual(first.x + first.width - 1);
          expect(box.x + box.width, `${where}: right edge before the actions`).toBeLessThanOrEqual(last.x + 1);
          expect(box.x + box.width, `${where}: right edge inside the window`).toBeLessThanOrEqual(width);
        }
      }

      // Cut short on screen only: the element's text (what a screen reader reads and a copy takes) is the whole id.
      const shown = header.getByTitle(longId, { exact: true });
      await expect(shown).toHaveText(longId);
      expect(await shown.evaluate((el) => ({ overflow: getComputedStyle(el).textOverflow, cut: el.scrollWidth > el.clientWidth })), `the id's ellipsis at ${width} px`).toEqual({ overflow: 'ellipsis', cut: true });
    }
  });
});
