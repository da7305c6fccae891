/**
 * Every page of the console at a phone's, a tablet's and a desktop's width (390, 820, 1280 px),
 * and the light pages in the dark colour scheme as well:
 * axe-core finds no violation, the page never pans sideways, and a screenshot of it is kept in
 * test-results/screenshots/<page>-<width>.png to be looked at. One browser context walks all the
 * pages at each width, so the whole check costs one login and one recorded session.
 */
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiLogin, openTerminal, streamLog, tag, typeLine, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';
import type { StackEnv } from './fixtures/stack-env.js';

const WIDTHS = [
  { width: 390, height: 844 },
  { width: 820, height: 1180 },
  { width: 1280, height: 800 },
] as const;
const SCREENSHOTS = join(import.meta.dirname, '..', 'test-results', 'screenshots');

/** axe-core's violations on the page as it is, one line each (rule, impact, where), for a readable failure. */
async function axeViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact ?? '?'}): ${n.target.join(' ')} — ${n.failureSummary?.replace(/\s+/g, ' ') ?? v.help}`));
}

/** How far the page pans sideways (0 when it does not). */
function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** The page's checks at one width: no axe violation, no sideways panning; then its screenshot. */
async function checkPage(page: Page, name: string, width: number): Promise<void> {
  expect.soft(await axeViolations(page), `axe-core on ${name} at ${width} px`).toEqual([]);
  expect.soft(await sidewaysOverflow(page), `sideways overflow of ${name} at ${width} px`).toBeLessThanOrEqual(0);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}-${width}.png`);
  await page.screenshot({ path, fullPage: true });
  await test.info().attach(`${name}-${width}.png`, { path, contentType: 'image/png' });
}

/** The recording's screen: its width and the width of the box it is shown in. */
function replayWidths(page: Page): Promise<{ screen: number; box: number }> {
  return page.getByRole('region', { name: 'Recording' }).evaluate((box) => ({ screen: box.querySelector('.xterm-screen')?.getBoundingClientRect().width ?? Infinity, box: box.clientWidth }));
}

/** A finished, recorded terminal session of the admin's; its stream id. */
async function recordSession(page: Page, stack: StackEnv): Promise<string> {
  const sockets = watchTerminalSockets(page);
  await openTerminal(page, stack.devices.shell);
  const word = `pages-${tag()}`;
  await typeLine(page, `seq 1 12 | sed s/^/row-/; echo ${word}`);
  await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  const streamId = sockets.at(-1)?.streamId() ?? '';
  expect(streamId).not.toBe('');
  await expect.poll(async () => (await streamLog(page.request, `deviceId=${stack.devices.shell}`)).find((s) => s.streamId === streamId)?.recording?.live).toBe(false);
  return streamId;
}

test('every page (the live view and the terminal’s failure ends too) at 390, 820 and 1280 px (and in the dark scheme at 1280) has no axe-core violation and no sideways panning; Connect, Log out and Replay stay on screen; replays fit the width (screenshots in test-results/screenshots)', async ({ page, stack }) => {
  test.setTimeout(240_000);
  for (const size of WIDTHS) {
    await page.setViewportSize(size);
    await page.goto('/login');
    await expect(page.getByLabel('Username')).toBeFocused();
    await checkPage(page, 'login', size.width);
  }

  await apiLogin(page.request, stack.admin);
  // Recorded at a desktop's size, so on a phone the recording is wider than the screen.
  await page.setViewportSize(WIDTHS[2]);
  const streamId = await recordSession(page, stack);
  const short = streamId.slice(0, 8);
  // A live session in another tab, for the live view (admins watch it read-only) and History's live row.
  const livePage = await page.context().newPage();
  const liveSockets = watchTerminalSockets(livePage);
  await openTerminal(livePage, stack.devices.shell);
  const liveId = liveSockets.at(-1)?.streamId() ?? '';
  expect(liveId).not.toBe('');

  for (const size of WIDTHS) {
    const { width } = size;
    await page.setViewportSize(size);

    await page.goto('/');
    const connect = page.getByRole('link', { name: `Connect to ${stack.devices.shell}` });
    await expect(connect).toBeVisible();
    // Connect is on the screen, not past its right edge.
    const box = await connect.boundingBox();
    expect.soft((box?.x ?? Infinity) + (box?.width ?? 0), `Connect's right edge at ${width} px`).toBeLessThanOrEqual(width);
    await checkPage(page, 'devices', width);

    // On a phone the header folds its links and Log out behind Menu.
    const logOut = page.getByRole('button', { name: 'Log out' });
    const menu = page.getByRole('button', { name: 'Menu' });
    if (width <= 700) {
      await expect(logOut).toBeHidden();
      await menu.press('Enter');
      await expect(menu).toHaveAttribute('aria-expanded', 'true');
      await expect(logOut).toBeInViewport({ ratio: 1 });
      await expect(page.getByRole('link', { name: 'Settings' })).toBeInViewport({ ratio: 1 });
      await checkPage(page, 'menu', width);
      await menu.press('Enter');
      await expect(logOut).toBeHidden();
    } else {
      await expect(menu).toBeHidden();
      await expect(logOut).toBeInViewport({ ratio: 1 });
    }

    await page.goto(`/terminal/${stack.devices.shell}`);
    await expect(page.getByRole('status')).toHaveText('Connected');
    await waitForTerminal(page, /\$ ?$/m);
    await expect(page.locator('.terminal-bar')).toContainText('Recorded');
    await checkPage(page, 'terminal', width);
    // Ended, so no detached session is left behind for the other specs.
    await page.keyboard.type('exit\n');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
    await checkPage(page, 'terminal-ended', width);
    // The failure ends: an offline device (said at once, with how to start its agent) and a device
    // that rejects the terminal (no shell mapping), each over the dimmed terminal.
    await page.goto(`/terminal/${stack.devices.offline}`);
    await expect(page.getByRole('status')).toContainText(`Device ${stack.devices.offline} is offline`, { timeout: 10_000 });
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
    await checkPage(page, 'terminal-offline', width);
    await page.goto(`/terminal/${stack.devices.rejects}`);
    await expect(page.getByRole('status')).toContainText('rejected the terminal', { timeout: 10_000 });
    await expect(page.getByRole('region', { name: /Session closed|Session ended|No terminal/ })).toContainText('--map shell=unix:');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
    await checkPage(page, 'terminal-rejected', width);

    await page.goto('/history');
    await expect(page.getByRole('link', { name: `Watch ${liveId.slice(0, 8)}` })).toBeVisible();
    const replay = page.getByRole('link', { name: `Replay ${short}` });
    await expect(replay).toBeVisible();
    const replayBox = await replay.boundingBox();
    expect.soft((replayBox?.x ?? Infinity) + (replayBox?.width ?? 0), `the Replay link's right edge at ${width} px`).toBeLessThanOrEqual(width);
    await checkPage(page, 'history', width);

    await page.goto(`/replay/${streamId}`);
    await expect(page.getByRole('button', { name: 'Play recording' })).toBeVisible({ timeout: 15_000 });
    await expect(page.getByRole('region', { name: 'Recording' }).locator('.xterm-rows')).toContainText('$');
    await checkPage(page, 'replay', width);
    // Fitted to the width; at actual size wider than the screen, which scrolls in its box (the page does not).
    const fitted = await replayWidths(page);
    expect.soft(fitted.screen, `the fitted recording's width at ${width} px`).toBeLessThanOrEqual(fitted.box);
    if (width === 390) {
      await page.getByRole('checkbox', { name: 'Actual size' }).check();
      await expect.poll(async () => (await replayWidths(page)).screen).toBeGreaterThan(fitted.box);
      expect.soft(await sidewaysOverflow(page), 'sideways overflow of the replay at actual size').toBeLessThanOrEqual(0);
      await checkPage(page, 'replay-actual-size', width);
    }

    await page.goto(`/watch/${liveId}`);
    await expect(page.getByRole('region', { name: 'Live session' }).locator('.xterm-rows')).toContainText('$');
    await checkPage(page, 'watch', width);

    await page.goto('/operators');
    await expect(page.getByRole('table', { name: 'Console accounts' })).toBeVisible();
    await checkPage(page, 'operators', width);

    await page.goto('/settings');
    await expect(page.getByRole('checkbox', { name: 'Record keystrokes' })).toBeEnabled();
    await checkPage(page, 'settings', width);
    // The confirmation, then Esc: nothing changes.
    await page.getByRole('checkbox', { name: 'Record keystrokes' }).press('Space');
    await expect(page.getByRole('dialog', { name: 'Record keystrokes?' })).toBeVisible();
    await checkPage(page, 'settings-confirm', width);
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog', { name: 'Record keystrokes?' })).toBeHidden();

    await page.goto('/account');
    await expect(page.getByRole('form', { name: 'Change your password' })).toBeVisible();
    await checkPage(page, 'account', width);

    await page.goto('/no-such-page');
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await checkPage(page, 'not-found', width);
  }

  await livePage.keyboard.type('exit\n');
  await expect(livePage.getByRole('status')).toHaveText('Shell exited with code 0');
  await livePage.close();

  // The light pages follow the system's dark scheme: the same checks in it, at the desktop width.
  await page.emulateMedia({ colorScheme: 'dark' });
  for (const [name, path, ready] of [
    ['devices-dark', '/', page.getByRole('link', { name: `Connect to ${stack.devices.shell}` })],
    ['history-dark', '/history', page.getByRole('link', { name: `Replay ${short}` })],
    ['operators-dark', '/operators', page.getByRole('table', { name: 'Console accounts' })],
    ['settings-dark', '/settings', page.getByRole('checkbox', { name: 'Record keystrokes' })],
    ['account-dark', '/account', page.getByRole('form', { name: 'Change your password' })],
  ] as const) {
    await page.goto(path);
    await expect(ready).toBeVisible();
    await checkPage(page, name, WIDTHS[2].width);
  }
});
