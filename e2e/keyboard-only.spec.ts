/**
 * The console with the keyboard only: log in, connect, type, leave the terminal by its key, reach
 * History, open the session's replay and play it. Every step is a key press; the page records any
 * pointer event, and there must be none.
 */
import type { Locator, Page } from '@playwright/test';
import { tag, waitForTerminal, watchTerminalSockets } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

/** Presses `key` (Tab or Shift+Tab) until `target` has the focus; fails after `max` presses. */
async function tabTo(page: Page, target: Locator, key: 'Tab' | 'Shift+Tab' = 'Tab', max = 80): Promise<number> {
  await expect(target).toBeVisible();
  for (let presses = 0; presses < max; presses++) {
    if (await target.evaluate((el) => el === document.activeElement)) return presses;
    await page.keyboard.press(key);
  }
  await expect(target, `${key} ${max} times never reached it`).toBeFocused({ timeout: 1 });
  return max;
}

/** Whether the focus is inside xterm (its input). */
function focusInTerminal(page: Page): Promise<boolean> {
  return page.evaluate(() => document.activeElement?.closest('.xterm') != null);
}

test('with the keyboard only: log in, connect, type, leave the terminal by Esc then Shift+Tab, reach History, open the replay and play it', async ({ page, stack }) => {
  // Any pointer event the page sees is counted (in the page: the app never reloads on the way).
  await page.addInitScript(() => {
    const w = window as unknown as { pointerEvents: string[] };
    w.pointerEvents = [];
    for (const type of ['pointerdown', 'mousedown', 'touchstart', 'wheel']) window.addEventListener(type, () => w.pointerEvents.push(type), true);
  });
  const sockets = watchTerminalSockets(page);
  const word = `keyboard-${tag()}`;

  await test.step('log in', async () => {
    await page.goto('/login');
    await expect(page.getByLabel('Username')).toBeFocused();
    await page.keyboard.type(stack.operator.name);
    await page.keyboard.press('Tab');
    await expect(page.getByLabel('Password')).toBeFocused();
    await page.keyboard.type(stack.operator.password);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { name: 'Devices', level: 1 })).toBeVisible();
  });

  await test.step('connect and type', async () => {
    await tabTo(page, page.getByRole('searchbox', { name: 'Search devices' }));
    await page.keyboard.type(stack.devices.shell);
    await tabTo(page, page.getByRole('link', { name: `Connect to ${stack.devices.shell}`, exact: true }));
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText('Connected');
    await waitForTerminal(page, /\$ ?$/m);
    expect(await focusInTerminal(page)).toBe(true);
    await page.keyboard.type(`echo ${word}`);
    await page.keyboard.press('Enter');
    await waitForTerminal(page, new RegExp(`^${word}$`, 'm'));
  });

  await test.step('leave the terminal by its key, come back, end the session', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+Tab');
    expect(await focusInTerminal(page)).toBe(false);
    await expect(page.getByRole('button', { name: 'Copy' })).toBeFocused();
    await page.keyboard.press('Tab');
    expect(await focusInTerminal(page)).toBe(true);
    // The shell got the Esc too (readline's meta prefix): Ctrl+G cancels it before the next command.
    await page.keyboard.press('Control+G');
    await page.keyboard.type('exit');
    await page.keyboard.press('Enter');
    await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
    await expect(page.getByRole('button', { name: 'Reconnect' })).toBeFocused();
  });

  const streamId = sockets.at(-1)?.streamId() ?? '';
  expect(streamId).not.toBe('');

  await test.step('reach History and open the replay', async () => {
    await tabTo(page, page.getByRole('link', { name: 'History', exact: true }), 'Shift+Tab');
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { name: 'History', level: 1 })).toBeVisible();
    await tabTo(page, page.getByRole('link', { name: `Replay ${streamId.slice(0, 8)}` }));
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(new RegExp(`/replay/${streamId}$`));
  });

  await test.step('play it from the screen, whose focus ring shows', async () => {
    const screen = page.getByRole('region', { name: 'Recording' });
    await expect(page.getByRole('button', { name: 'Play recording' })).toBeVisible({ timeout: 15_000 });
    await expect(screen.locator('.xterm-rows')).not.toContainText(word);
    // The shortcuts are listed on the page, and the slider moves by whole seconds.
    await expect(page.getByText('Keys on the screen:')).toBeVisible();
    await expect(page.getByRole('slider', { name: 'Seek' })).toHaveAttribute('step', '1');
    await tabTo(page, screen);
    const outline = await screen.evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
    expect(outline).toMatch(/^solid [1-9]/);
    await page.keyboard.press('Space');
    await expect(page.getByRole('button', { name: 'Play recording' })).toHaveCount(0);
    await expect(screen.locator('.xterm-rows')).toContainText(word, { timeout: 15_000 });
  });

  expect(await page.evaluate(() => (window as unknown as { pointerEvents: string[] }).pointerEvents)).toEqual([]);
});
