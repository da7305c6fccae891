/**
 * The terminal page by keyboard and at its end: the key that leaves the terminal, the ended view
 * (reason, hint, actions, focus on Reconnect), and refusals said at once and once.
 */
import type { Page } from '@playwright/test';
import { apiLogin, openTerminal, terminalRegion, typeLine, waitForTerminal } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

/** Whether the focused element is inside xterm (its input textarea, in practice). */
function focusInTerminal(page: Page): Promise<boolean> {
  return page.evaluate(() => document.activeElement?.closest('.xterm') != null);
}

/** A screenshot kept in the test's results folder (and attached to its report), to look at the ended view. */
async function keepScreenshot(page: Page, name: string): Promise<void> {
  const path = test.info().outputPath(name);
  await page.screenshot({ path });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

/** The ended view over the terminal. */
function endedView(page: Page) {
  return page.getByRole('region', { name: /Session closed|Session ended|No terminal/ });
}

test.describe('as an operator', () => {
  test.beforeEach(async ({ page, stack }) => {
    await apiLogin(page.request, stack.operator);
  });

  test('after exit the terminal shows the ended view with its reason, input off, and focus on Reconnect', async ({ page, stack }) => {
    await openTerminal(page, stack.devices.shell);
    expect(await focusInTerminal(page)).toBe(true);
    await expect(endedView(page)).toHaveCount(0);
    const input = page.getByRole('textbox', { name: 'Shell input' });
    await expect(input).not.toHaveAttribute('readonly');
    await expect(terminalRegion(page).region.locator('.xterm-cursor-blink')).not.toHaveCount(0);
    await typeLine(page, 'exit');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
    const view = endedView(page);
    await expect(view).toBeVisible();
    await expect(view.getByRole('heading')).toHaveText(/Session closed/);
    await expect(view).toContainText('Shell exited with code 0');
    await expect(view).toContainText('Input is off');
    // xterm takes no keystrokes (its input is read-only) and its cursor no longer blinks.
    await expect(input).toHaveAttribute('readonly');
    await expect(terminalRegion(page).region.locator('.xterm-cursor-blink')).toHaveCount(0);
    await expect(view).toHaveClass(/terminal-ended-clean/);
    await expect(terminalRegion(page).region).toHaveClass(/terminal-host-ended/);
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
    await expect(view.getByRole('link', { name: 'Back to devices' })).toBeVisible();
    await keepScreenshot(page, 'ended-clean.png');

    // Focused again (clicked beside the ended view), the cursor still does not blink; Tab alone
    // leaves the ended terminal, to Reconnect.
    await terminalRegion(page).region.click({ position: { x: 40, y: 10 } });
    expect(await focusInTerminal(page)).toBe(true);
    await expect(terminalRegion(page).region.locator('.xterm-cursor-blink')).toHaveCount(0);
    await page.keyboard.press('Tab');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();

    // A failing exit looks different from a clean one.
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText('Connected');
    await expect(endedView(page)).toHaveCount(0);
    await expect(input).not.toHaveAttribute('readonly');
    expect(await focusInTerminal(page)).toBe(true);
    await typeLine(page, 'exit 3');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 3');
    await expect(endedView(page)).toHaveClass(/terminal-ended-neutral/);
    await expect(endedView(page).getByRole('heading')).toHaveText(/Session ended/);
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
  });

  test('Esc then Tab leaves the live terminal (Shift+Tab backwards); Tab alone stays in the shell', async ({ page, stack }) => {
    await openTerminal(page, stack.devices.shell);
    await expect(page.getByText('Esc then Tab leaves the terminal')).toBeVisible();
    expect(await focusInTerminal(page)).toBe(true);

    // Tab alone is the shell's: it completes the command.
    await page.keyboard.type('ech');
    await page.keyboard.press('Tab');
    await waitForTerminal(page, /\$ echo\s*$/m);
    expect(await focusInTerminal(page)).toBe(true);
    await page.keyboard.press('Control+C');

    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+Tab');
    expect(await focusInTerminal(page)).toBe(false);
    await expect(page.getByRole('button', { name: 'Copy' })).toBeFocused();

    await terminalRegion(page).region.click();
    expect(await focusInTerminal(page)).toBe(true);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await focusInTerminal(page)).toBe(false);
    expect(await page.evaluate(() => document.activeElement !== null && document.activeElement !== document.body)).toBe(true);

    // The shell got the Esc (a meta prefix to readline); Ctrl+G aborts it, then the session ends cleanly.
    await terminalRegion(page).region.click();
    await page.keyboard.press('Control+G');
    await typeLine(page, 'exit 0');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  });

  test('Connect on an offline device says offline within 2 s (the connect timeout is 3 s), with a hint', async ({ page, stack }) => {
    const { offline } = stack.devices;
    await page.goto('/');
    await page.getByRole('searchbox', { name: 'Search devices' }).fill(offline);
    const connect = page.getByRole('link', { name: `Connect to ${offline}` });
    await expect(connect).toBeVisible();
    // Timed from the moment the page asks for the device (its terminal socket opens), so loading
    // the terminal's code on a busy machine does not count; waiting out the timeout would take 3 s.
    const asked = page.waitForEvent('websocket', (ws) => ws.url().includes('/api/terminal')).then(() => Date.now());
    await connect.click();
    await expect(page.getByRole('status')).toContainText(`Device ${offline} is offline`, { timeout: 5000 });
    const elapsed = Date.now() - (await asked);
    console.log(`offline said ${elapsed} ms after the terminal socket opened`);
    expect(elapsed).toBeLessThan(2000);
    await expect(endedView(page)).toContainText('Start its agent');
    await expect(endedView(page)).toHaveClass(/terminal-ended-failed/);
    await keepScreenshot(page, 'ended-offline.png');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
  });

  test('a disabled device is called disabled, not offline, with how to enable it', async ({ page, stack }) => {
    const { disabled } = stack.devices;
    await page.goto(`/terminal/${disabled}`);
    const status = page.getByRole('status');
    await expect(status).toContainText(`Device ${disabled} is disabled`, { timeout: 2000 });
    await expect(status).not.toContainText('offline');
    await expect(endedView(page)).toContainText(`devicestreams device enable ${disabled}`);
  });

  test('a rejection is said once, with the mapping to add', async ({ page, stack }) => {
    await page.goto(`/terminal/${stack.devices.rejects}`);
    const status = page.getByRole('status');
    await expect(status).toContainText('rejected the terminal');
    const text = (await status.textContent()) ?? '';
    expect(text.match(/rejected the terminal/gi)).toHaveLength(1);
    expect(text).toContain('no mapping for stream "shell"');
    await expect(endedView(page)).toContainText('--map shell=unix:');
    await keepScreenshot(page, 'ended-rejected.png');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
  });
});
