/**
 * Session recording in the console: a terminal session is found in the history, replayed, and the
 * player shows the same output after seeking to the end; a damaged file gives a clear error.
 */
import type { Browser, Page } from '@playwright/test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiLogin, consoleOrigin, openTerminal, streamLog, tag, typeLine, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';
import type { Account } from './fixtures/stack-env.js';

/** The recording's rendered text in the player. */
async function playerText(page: Page): Promise<string> {
  return (await page.getByRole('region', { name: 'Recording' }).locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ');
}

async function recordSession(page: Page, device: string, lines: string[]): Promise<string> {
  const sockets = watchTerminalSockets(page);
  await openTerminal(page, device);
  for (const line of lines) await typeLine(page, line);
  await waitForTerminal(page, new RegExp(lines.at(-1)?.replace(/^echo /, '') ?? ''));
  await typeLine(page, 'exit 0');
  await expect(page.getByRole('status')).toContainText('Shell exited with code 0');
  const streamId = sockets.at(-1)?.streamId();
  expect(streamId).toBeDefined();
  return streamId ?? '';
}

test('a recorded session replays from the history and shows the same output after seeking to the end', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const word = `replayed-${tag()}`;
  const streamId = await recordSession(page, stack.devices.shell, ['seq 1 40 | sed s/^/line-/', `echo ${word}`]);

  await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === streamId)?.recording?.live).toBe(false);
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('link', { name: `Replay ${streamId.slice(0, 8)}` }).click();
  await expect(page).toHaveURL(new RegExp(`/replay/${streamId}`));

  const seek = page.getByRole('slider', { name: 'Seek' });
  await expect(seek).toBeEnabled({ timeout: 15_000 });
  await seek.focus();
  await page.keyboard.press('End');
  await expect.poll(() => playerText(page), { timeout: 10_000 }).toContain(word);
  expect(await playerText(page)).toMatch(/line-40/);
  await expect(page.getByRole('link', { name: 'Download .cast' })).toHaveAttribute('href', `/api/recordings/${streamId}/cast`);
  await expect(page.getByRole('combobox', { name: 'Speed' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Play', exact: true })).toBeVisible();
});

test('a replay opens on its first frame with a Play button over it, which plays the recording to its end and hands the focus to the screen', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const word = `first-frame-${tag()}`;
  const streamId = await recordSession(page, stack.devices.shell, [`sleep 1; echo ${word}`]);
  await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === streamId)?.recording?.live).toBe(false);

  await page.goto(`/replay/${streamId}`);
  const big = page.getByRole('button', { name: 'Play recording' });
  await expect(big).toBeVisible({ timeout: 15_000 });
  // The first frame: the prompt is drawn before anything is played; the output comes later.
  await expect.poll(() => playerText(page)).toMatch(/\$/);
  expect(await playerText(page)).not.toContain(word);
  await big.focus();
  await page.keyboard.press('Enter');
  await expect(big).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Recording' })).toBeFocused();
  await expect.poll(() => playerText(page), { timeout: 15_000 }).toContain(word);
});

test('a damaged recording shows a clear error and the console keeps working', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const streamId = await recordSession(page, stack.devices.shell, [`echo soon-damaged-${tag()}`]);
  const day = new Date().toISOString().slice(0, 10);
  const path = join(stack.dataDir, 'recordings', day, `${streamId}.cast`);
  await expect.poll(() => existsSync(path)).toBe(true);
  await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === streamId)?.recording?.live).toBe(false);
  const [header] = readFileSync(path, 'utf8').split('\n');
  writeFileSync(path, `${header}\n[0.1, "o", "fine"]\nthis is not json\n[0.3, "o", "more"]\n`);

  await page.goto(`/replay/${streamId}`);
  await expect(page.getByRole('alert')).toContainText(/cannot be played.*line 3/i);
  await page.getByRole('link', { name: 'Devices' }).click();
  await expect(page.getByRole('link', { name: `Connect to ${stack.devices.shell}` })).toBeVisible();
});

test('a viewer may replay but not delete; an admin deletes and the recording is gone', async ({ page, browser, stack }) => {
  await apiLogin(page.request, stack.admin);
  const streamId = await recordSession(page, stack.devices.shell, [`echo to-delete-${tag()}`]);
  await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === streamId)?.recording?.live).toBe(false);

  const viewerContext = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: stack.baseURL });
  const viewer = await viewerContext.newPage();
  await apiLogin(viewer.request, stack.viewer);
  await viewer.goto(`/replay/${streamId}`);
  await expect(viewer.getByRole('slider', { name: 'Seek' })).toBeEnabled({ timeout: 15_000 });
  await expect(viewer.getByRole('button', { name: 'Delete recording' })).toHaveCount(0);
  const refused = await viewer.request.delete(`/api/recordings/${streamId}`, { headers: { origin: new URL(stack.baseURL).origin } });
  expect(refused.status()).toBe(403);
  await viewerContext.close();

  await page.goto(`/replay/${streamId}`);
  await page.getByRole('button', { name: 'Delete recording' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(page).toHaveURL(/\/history/);
  const gone = await page.request.get(`/api/recordings/${streamId}`);
  expect(gone.status()).toBe(404);
  const day = new Date().toISOString().slice(0, 10);
  expect(existsSync(join(stack.dataDir, 'recordings', day, `${streamId}.cast`))).toBe(false);
});

/** A page of its own, logged in as `account` (another person at another browser). */
async function pageAs(browser: Browser, baseURL: string, account: Account): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL });
  const page = await context.newPage();
  await apiLogin(page.request, account);
  return page;
}

test("History offers Replay where the role may replay, as the server rules: an operator only on their own session (another operator's row says it is not theirs), a viewer and an admin on both", async ({ page, browser, stack }) => {
  test.setTimeout(120_000);
  await apiLogin(page.request, stack.admin);
  const other: Account = { name: `e2e-other-${tag()}`, password: `pw-${tag()}-${tag()}` };
  const created = await page.request.post('/api/operators', { data: { ...other, role: 'operator' }, headers: { origin: consoleOrigin() } });
  expect(created.status(), await created.text()).toBe(201);

  const otherPage = await pageAs(browser, stack.baseURL, other);
  const theirs = await recordSession(otherPage, stack.devices.shell, [`echo theirs-${tag()}`]);
  await otherPage.context().close();
  const operatorPage = await pageAs(browser, stack.baseURL, stack.operator);
  const own = await recordSession(operatorPage, stack.devices.shell, [`echo own-${tag()}`]);
  for (const id of [theirs, own]) {
    await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === id)?.recording?.live).toBe(false);
  }
  const rowOf = (p: Page, id: string) => p.getByRole('row').filter({ hasText: `Details of stream ${id.slice(0, 8)}` });
  const replayOf = (p: Page, id: string) => p.getByRole('link', { name: `Replay ${id.slice(0, 8)}`, exact: true });

  // The operator: Replay on their own row, none on the other operator's (the server refuses it, 403).
  await operatorPage.goto(`/history?device=${stack.devices.shell}`);
  await expect(replayOf(operatorPage, own)).toBeVisible();
  await expect(rowOf(operatorPage, theirs)).toBeVisible();
  await expect(replayOf(operatorPage, theirs)).toHaveCount(0);
  await expect(rowOf(operatorPage, theirs).getByRole('cell').last()).toContainText('Not yours to replay');
  expect((await operatorPage.request.get(`/api/recordings/${own}`)).status()).toBe(200);
  expect((await operatorPage.request.get(`/api/recordings/${theirs}`)).status()).toBe(403);
  await replayOf(operatorPage, own).click();
  await expect(operatorPage.getByRole('slider', { name: 'Seek' })).toBeEnabled({ timeout: 15_000 });
  await operatorPage.context().close();

  // A viewer and an admin replay both.
  const viewerPage = await pageAs(browser, stack.baseURL, stack.viewer);
  for (const p of [viewerPage, page]) {
    await p.goto(`/history?device=${stack.devices.shell}`);
    for (const id of [own, theirs]) {
      await expect(replayOf(p, id)).toBeVisible();
      expect((await p.request.get(`/api/recordings/${id}`)).status()).toBe(200);
    }
  }
  await viewerPage.context().close();
});
