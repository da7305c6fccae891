/**
 * Terminals that come back: a reload, a network gone for 10 s, another tab, and a session left
 * detached past its timeout — in a real browser against the real stack. The shell is the same one
 * (same PID) with what it printed meanwhile, keystrokes typed while offline reach it once, the
 * recording is one recording with a marker at the gap, and an expired session is shown as ended.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { processRunning } from '../device/shell/pty.js';
import { createServiceClient } from '../server/sdk/service-client.js';
import { CLI, startAgent, startShellServer, stopAll, tempDir, type HubHandle } from '../test/harness.js';
import { apiLogin, openTerminal, tag, terminalText, typeLine, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import type { StackEnv } from './fixtures/stack-env.js';
import { expect, test } from './fixtures/test.js';

const QUICK_DEVICE = 'e2e-quick';
const QUICK_DETACH_SECONDS = 3;

/** A device whose shell server keeps detached sessions for only a few seconds. */
async function startQuickDevice(stack: StackEnv): Promise<void> {
  const host = new URL(stack.baseURL).host;
  const cs = execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'iothubowner', '--data-dir', stack.dataDir, '--host-name', host], { encoding: 'utf8' }).trim();
  const service = createServiceClient(cs, { ca: readFileSync(stack.caFile, 'utf8'), hubUrl: stack.baseURL });
  const home = tempDir('ds-e2e-quick-home-');
  const shell = await startShellServer([
    '--shell', join(import.meta.dirname, 'fixtures', 'clean-bash.sh'), '--cwd', home,
    '--env', 'PS1=$ ', '--env', `HOME=${home}`, '--env', `HISTFILE=${join(home, '.bash_history')}`,
    '--detach-timeout', String(QUICK_DETACH_SECONDS),
  ]);
  // startAgent only needs the hub's service client and CA file.
  await startAgent({ service, caFile: stack.caFile } as unknown as HubHandle, QUICK_DEVICE, [shell.map]);
}

/** The shell's PID, printed on a line of its own. */
async function shellPid(page: Page, label: string): Promise<number> {
  await typeLine(page, `echo ${label}-PID=$$`);
  return Number((await waitForTerminal(page, new RegExp(`^${label}-PID=(\\d+)$`, 'm')))[1]);
}

/** How many lines of the terminal are exactly `line`. */
async function linesEqual(page: Page, line: string): Promise<number> {
  return (await terminalText(page)).split('\n').filter((l) => l === line).length;
}

test.afterAll(stopAll);

test('a reload mid-session reattaches the same shell with what it printed meanwhile; the recording is one, with a marker at the gap', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const sockets = watchTerminalSockets(page);
  await openTerminal(page, stack.devices.shell);
  await expect(page).toHaveURL(/[?&]session=[0-9a-f]{32}/);
  const sessionUrl = page.url();
  const pid = await shellPid(page, 'BEFORE');
  await typeLine(page, 'for i in $(seq 1 5); do echo tick-$i; sleep 1; done');
  await waitForTerminal(page, /^tick-1$/m);

  const reloadAt = Date.now();
  const socketAt = page.waitForEvent('websocket', (ws) => ws.url().includes('/api/terminal')).then(() => Date.now());
  await page.reload();
  await expect(page).toHaveURL(sessionUrl);
  await expect(page.getByRole('status')).toHaveText('Connected');
  const connectedAt = Date.now();
  await waitForTerminal(page, /^tick-1$/m);
  console.log(`reload → reattached in ${connectedAt - reloadAt} ms (page load ${(await socketAt) - reloadAt} ms, then socket → ATTACHED ${connectedAt - (await socketAt)} ms), output on screen after ${Date.now() - reloadAt} ms`);
  // The loop went on while the page was away; the new page shows it all, each line once.
  await waitForTerminal(page, /^tick-5$/m, 10_000);
  for (let i = 1; i <= 5; i++) expect(await linesEqual(page, `tick-${i}`), `tick-${i}`).toBe(1);
  expect(await shellPid(page, 'AFTER')).toBe(pid);

  await typeLine(page, 'exit 0');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  await expect(page.getByRole('button', { name: 'Reconnect' })).toBeEnabled();
  // A reload now finds the session ended, and says so.
  await page.reload();
  await expect(page.getByRole('status')).toContainText(/session (has )?ended/i);

  // One recording, named by the session's first stream, across both connections.
  const recordingId = sockets[0]?.streamId() ?? '';
  expect(recordingId).not.toBe('');
  await expect.poll(async () => ((await (await page.request.get(`/api/recordings/${recordingId}`)).json()) as { live: boolean }).live, { timeout: 15_000 }).toBe(false);
  const cast = await (await page.request.get(`/api/recordings/${recordingId}/cast`)).text();
  const events = cast.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  for (let i = 1; i <= 5; i++) expect(output.match(new RegExp(`^tick-${i}\\r$`, 'gm')), `tick-${i} recorded once`).toHaveLength(1);
  const markers = events.filter((e) => e[1] === 'm').map((e) => e[2]);
  expect(markers).toContainEqual(expect.stringMatching(/^detached/));
  expect(markers).toContainEqual(expect.stringMatching(/^reattached after \d+\.\d s detached/));
  expect(markers.at(-1)).toBe('exit 0');
  expect((await page.request.get(`/api/recordings/${sockets.at(-1)?.streamId() ?? ''}`)).status()).toBe(404);
});

test('offline for 10 s: the page says reconnecting, then resumes; keystrokes typed while offline reach the shell once', async ({ page, context, stack }) => {
  await apiLogin(page.request, stack.operator);
  await openTerminal(page, stack.devices.shell);
  const pid = await shellPid(page, 'ONLINE');
  const word = `typed-offline-${tag()}`;

  await context.setOffline(true);
  const offlineAt = Date.now();
  await page.waitForTimeout(1500);
  await typeLine(page, `echo ${word}`);
  await expect(page.getByRole('status')).toContainText('Reconnecting', { timeout: 12_000 });
  console.log(`offline → the page says reconnecting after ${Date.now() - offlineAt} ms`);
  await page.waitForTimeout(Math.max(0, 10_000 - (Date.now() - offlineAt)));
  await context.setOffline(false);
  const onlineAt = Date.now();
  await expect(page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
  console.log(`back online → reattached in ${Date.now() - onlineAt} ms`);
  await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  // Once: the command line echoed once, its output once.
  await page.waitForTimeout(500);
  expect(await linesEqual(page, word)).toBe(1);
  expect((await terminalText(page)).split(`echo ${word}`).length - 1).toBe(1);
  expect(await shellPid(page, 'BACK')).toBe(pid);
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
});

test('the sessions list reattaches a session from another tab; the first tab says the session was opened in another tab or window (not "Session ended"), offers Reattach first and focused and no Reconnect, and Reattach takes the same shell back', async ({ page, context, stack }) => {
  await apiLogin(page.request, stack.operator);
  await openTerminal(page, stack.devices.shell);
  const pid = await shellPid(page, 'TAB1');
  const other = await context.newPage();
  await other.goto('/');
  const panel = other.getByRole('region', { name: 'Terminal sessions' });
  await expect(panel).toBeVisible();
  await panel.getByRole('link', { name: `Reattach the session on ${stack.devices.shell}` }).first().click();
  await expect(other.getByRole('status')).toHaveText('Connected');
  expect(await shellPid(other, 'TAB2')).toBe(pid);

  // The first tab: the server's sentence, a view named for where the session went, Reattach first.
  await expect(page.getByRole('status')).toHaveText('This terminal session was opened in another tab or window.');
  const view = page.getByRole('region', { name: 'Open in another tab or window' });
  await expect(view).toContainText('Its shell goes on running there.');
  await expect(page.getByText(/Session ended/)).toHaveCount(0);
  await expect(view.getByRole('button', { name: 'Reconnect' })).toHaveCount(0);
  const actions = view.getByRole('button');
  await expect(actions).toHaveText(['Reattach', 'Start a new shell']);
  await expect(actions.first()).toBeFocused();
  await expect(actions.first()).toHaveClass(/button-primary/);
  await expect(actions.last()).not.toHaveClass(/button-primary/);

  // Enter on the focused Reattach: the same shell is back here, and the other tab is told.
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText('Connected');
  await expect(other.getByRole('status')).toHaveText('This terminal session was opened in another tab or window.');
  expect(await shellPid(page, 'BACK')).toBe(pid);
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  await other.close();
});

test('a session left detached past its timeout is ended by the device, and the page shows it ended', async ({ page, stack }) => {
  await startQuickDevice(stack);
  await apiLogin(page.request, stack.operator);
  await openTerminal(page, QUICK_DEVICE);
  await expect(page).toHaveURL(/[?&]session=[0-9a-f]{32}/);
  const sessionUrl = page.url();
  const pid = await shellPid(page, 'QUICK');
  // The page goes away (its socket closes cleanly), and stays away past the detach timeout.
  await page.goto('/');
  await expect.poll(() => processRunning(pid), { timeout: 15_000, intervals: [250] }).toBe(false);
  await page.goto(sessionUrl);
  const status = page.getByRole('status');
  // The device's own word ("Session ended: … detached for more than N s") when the console still had
  // the session when the page asked; the console's ("This terminal session has ended …") once its
  // sweep of expired sessions has run first. Either way: ended, and no Reattach.
  await expect(status).toContainText(new RegExp(`Session ended: .*detached for more than ${QUICK_DETACH_SECONDS} s|This terminal session has ended`));
  await expect(page.getByRole('button', { name: 'Reattach' })).toHaveCount(0);
  // A new session on the device is one click away.
  await page.getByRole('button', { name: 'Reconnect' }).click();
  await expect(status).toHaveText('Connected');
  expect(await shellPid(page, 'NEW')).not.toBe(pid);
});
