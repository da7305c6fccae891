/**
 * The operator's main path through the console: log in, find the device, open its terminal, run
 * commands, resize, exit the shell, and find the session in the history.
 */
import type { ConsoleStream } from '../shared/console-api.js';
import { streamLog, tag, terminalRegion, typeLine, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

test('an admin logs in, opens a terminal on a device, resizes it, exits and finds it in the history', async ({ page, stack }) => {
  const { admin, devices } = stack;
  const sockets = watchTerminalSockets(page);

  await test.step('log in through the login form', async () => {
    await page.goto('/');
    await expect(page).toHaveURL(/\/login/);
    await page.getByRole('textbox', { name: 'Username' }).fill(admin.name);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  });

  await test.step('the device table lists the device as online and the search box filters it', async () => {
    // By name: the page also lists the admin's terminal sessions in a table of their own when there are any.
    const table = page.getByRole('table', { name: /^Registered devices/ });
    const deviceRow = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: devices.shell, exact: true }) });
    const rejectsRow = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: devices.rejects, exact: true }) });
    await expect(deviceRow).toContainText('Online');
    await expect(rejectsRow).toBeVisible();
    await expect(table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: devices.offline, exact: true }) })).toContainText('Offline');

    const search = page.getByRole('searchbox', { name: 'Search devices' });
    await search.fill('e2e-dev');
    await expect(deviceRow).toBeVisible();
    await expect(rejectsRow).toHaveCount(0);
    await search.fill('no-such-device-anywhere');
    await expect(table).toContainText('No device matches');
    await search.fill(devices.shell);
    await page.getByRole('link', { name: `Connect to ${devices.shell}` }).click();
  });

  const { region } = terminalRegion(page);
  await test.step('commands typed into the terminal run on the device', async () => {
    await expect(page.getByRole('status')).toHaveText('Connected');
    await waitForTerminal(page, /\$ ?$/m);
    await region.click();
    const word = `hello-${tag()}`;
    await typeLine(page, `echo ${word}`);
    // The typed line is echoed too; the output is the line that holds the word alone.
    await waitForTerminal(page, new RegExp(`^${word}\\s*$`, 'm'));
  });

  await test.step('the shell follows the size of the browser window', async () => {
    const rowCount = () => region.locator('.xterm-rows > div').count();
    await typeLine(page, 'echo size1-$(stty size)-end');
    const before = await waitForTerminal(page, /size1-(\d+) (\d+)-end/);
    const [rows1, cols1] = [Number(before[1]), Number(before[2])];
    expect(rows1).toBe(await rowCount());

    await page.setViewportSize({ width: 760, height: 420 });
    await expect.poll(rowCount).toBeLessThan(rows1);
    const xtermRows = await rowCount();
    // The RESIZE reaches the PTY a moment after xterm re-fits; ask until the shell agrees.
    let after: RegExpMatchArray | undefined;
    await expect
      .poll(async () => {
        const n = tag();
        await typeLine(page, `clear; echo size2${n}-$(stty size)-end`);
        after = await waitForTerminal(page, new RegExp(`size2${n}-(\\d+) (\\d+)-end`));
        return Number(after[1]);
      })
      .toBe(xtermRows);
    expect(Number(after?.[2])).toBeLessThan(cols1);
  });

  let streamId: string | undefined;
  await test.step('exiting the shell ends the session with its exit code', async () => {
    await typeLine(page, 'exit 3');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 3');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled();
    expect(sockets).toHaveLength(1);
    streamId = sockets[0]?.streamId();
    expect(streamId).toBeDefined();
  });

  await test.step('the history shows the session with its operator', async () => {
    // The log is the source of truth for "this stream": it is the newest admin terminal on the device.
    let entry: ConsoleStream | undefined;
    await expect
      .poll(async () => (entry = (await streamLog(page.request, `deviceId=${devices.shell}&operator=${admin.name}`))[0]))
      .toMatchObject({ streamId, operator: admin.name, streamName: 'shell', result: 'accepted', state: 'ended' });

    await page.getByRole('link', { name: 'History', exact: true }).click();
    await page.getByLabel('Device', { exact: true }).fill(devices.shell);
    await page.getByLabel('Operator', { exact: true }).fill(admin.name);
    await expect(page).toHaveURL(/device=e2e-device.*operator=admin/);
    const row = page.getByRole('table', { name: 'Streams, newest first' }).getByRole('row').nth(1);
    const cells = row.getByRole('cell');
    // The first row is that stream: same start time, device and stream name, operator and result
    // (in words; the code is in the row's details).
    await expect(cells.nth(1).locator('time')).toHaveAttribute('datetime', entry?.createdAt ?? 'missing');
    await expect(row.getByRole('rowheader')).toHaveText(`${devices.shell} shell`);
    await expect(cells.nth(0)).toHaveText(admin.name);
    await expect(cells.nth(3).locator('.badge')).toHaveText('connected');
    await expect(cells.nth(3).getByRole('group')).toContainText('accepted');
  });
});
