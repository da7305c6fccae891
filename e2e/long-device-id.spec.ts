/**
 * A 128-character device id (the longest a device may have) in the tables that name devices beside
 * other columns: History and the Devices page's terminal sessions. It is cut short on screen, as on
 * the Devices table (devices-rows.spec.ts), so the columns beside it stay in view.
 */
import { join } from 'node:path';
import type { Locator } from '@playwright/test';
import { startAgent, startHub, startShellServer, stopAll, tempDir, type HubHandle } from '../test/harness.js';
import { waitForTerminal } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

const PASSWORD = 'long-id-sessions-admin-pw';
const LONG_ID = 'q'.repeat(128);
const DEVICES = ['pump-17', LONG_ID];

/** A hub of its own with two devices whose agents map one clean shell. */
async function startFleet(): Promise<HubHandle> {
  const hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: PASSWORD });
  const home = tempDir('ds-e2e-long-home-');
  const shell = await startShellServer([
    '--shell', join(import.meta.dirname, 'fixtures', 'clean-bash.sh'), '--cwd', home,
    '--env', 'PS1=$ ', '--env', `HOME=${home}`, '--env', `HISTFILE=${join(home, '.bash_history')}`,
  ]);
  for (const id of DEVICES) await startAgent(hub, id, [shell.map]);
  return hub;
}

/**
 * Every cell of every body row but the last lies between the row's first column (its header) and
 * its last cell, and inside the window: nothing pushed out of view or under a sticky column.
 */
async function expectColumnsInView(rows: Locator, width: number, where: string): Promise<void> {
  for (const row of await rows.all()) {
    const first = await row.getByRole('rowheader').boundingBox();
    const cells = row.getByRole('cell');
    const last = await cells.last().boundingBox();
    const name = `${where}, row of ${(await row.getByRole('rowheader').textContent())?.slice(0, 12)}… at ${width} px`;
    expect(first, name).not.toBeNull();
    expect(last, name).not.toBeNull();
    if (first === null || last === null) continue;
    expect(last.x + last.width, `${name}: last cell's right edge inside the window`).toBeLessThanOrEqual(width);
    const n = await cells.count();
    for (let i = 0; i < n - 1; i++) {
      const box = await cells.nth(i).boundingBox();
      const cell = `${name}, cell ${i + 1}`;
      expect(box, cell).not.toBeNull();
      if (box === null) continue;
      expect(box.x, `${cell}: left edge past the device column`).toBeGreaterThanOrEqual(first.x + first.width - 1);
      expect(box.x + box.width, `${cell}: right edge before the last cell`).toBeLessThanOrEqual(last.x + 1);
    }
  }
}

/**
 * The long id's element in `scope`: its whole id as title and text, shown on one line cut short
 * with an ellipsis (text-overflow on a line that does not wrap, or a one-line clamp of a wrapping one).
 */
async function expectCutShort(scope: Locator, width: number, where: string): Promise<void> {
  const shown = scope.getByTitle(LONG_ID, { exact: true });
  await expect(shown, where).toHaveText(LONG_ID);
  const look = await shown.evaluate((el) => {
    const style = getComputedStyle(el);
    const lineHeight = parseFloat(style.lineHeight);
    return {
      ellipsis: style.textOverflow === 'ellipsis' || style.webkitLineClamp === '1',
      oneLine: el.clientHeight <= lineHeight * 1.5,
      cut: el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight,
    };
  });
  expect(look, `${where}: the id at ${width} px`).toEqual({ ellipsis: true, oneLine: true, cut: true });
  // The whole id is still the row's name, for a screen reader and a copy.
  await expect(scope.getByRole('rowheader', { name: new RegExp(`^${LONG_ID}`) })).toBeVisible();
}

test.describe('a device with a 128-character id', () => {
  test.afterAll(stopAll);

  test('is cut short with an ellipsis (the whole id its title and text) in History\'s device column and in the Devices page\'s terminal sessions, and every other column of every row stays on screen, at 1280 and 1024 px', async ({ page }) => {
    const hub = await startFleet();
    const login = await page.request.post(`${hub.url}/api/login`, { data: { username: 'admin', password: PASSWORD }, headers: { origin: new URL(hub.url).origin } });
    expect(login.status()).toBe(200);
    // A session on each device, left running (detached) when the page moves on.
    for (const id of DEVICES) {
      await page.goto(`${hub.url}/terminal/${id}`);
      await expect(page.getByRole('status')).toHaveText('Connected');
      await waitForTerminal(page, /\$ ?$/m);
    }

    for (const width of [1280, 1024]) {
      await page.setViewportSize({ width, height: 800 });

      await page.goto(`${hub.url}/`);
      const sessions = page.getByRole('region', { name: 'Terminal sessions' });
      const sessionRows = sessions.getByRole('row').filter({ has: page.getByRole('rowheader') });
      await expect(sessionRows).toHaveCount(2);
      await expectCutShort(sessions, width, 'terminal sessions');
      await expectColumnsInView(sessionRows, width, 'terminal sessions');

      await page.goto(`${hub.url}/history`);
      const history = page.getByRole('table', { name: 'Streams, newest first' });
      const streamRows = history.getByRole('row').filter({ has: page.getByRole('rowheader') });
      await expect(streamRows).toHaveCount(2);
      await expectCutShort(history, width, 'History');
      await expectColumnsInView(streamRows, width, 'History');
    }
  });
});
