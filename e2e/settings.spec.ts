/**
 * The Settings page: keystroke recording is switched there (not on History), turning it on asks
 * first and says passwords will be recorded, and the terminal tells the operator what is recorded.
 */
import type { Page } from '@playwright/test';
import type { ConsoleSettings, RecordingInfo } from '../shared/console-api.js';
import { apiGet, apiLogin, consoleOrigin, openTerminal, typeLine, watchTerminalSockets } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

/** Opens a terminal, checks what its status line says is recorded, exits; whether its recording holds keystrokes. */
async function sessionRecordsKeystrokes(page: Page, device: string, indicator: RegExp): Promise<boolean> {
  const sockets = watchTerminalSockets(page);
  await openTerminal(page, device);
  await expect(page.locator('.terminal-bar .recording-indicator')).toHaveText(indicator);
  await typeLine(page, 'exit');
  await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
  const streamId = sockets.at(-1)?.streamId();
  expect(streamId).toBeDefined();
  return (await apiGet<RecordingInfo>(page.request, `/api/recordings/${streamId ?? ''}`)).inputRecorded;
}

/** The setting as the server has it. */
async function recordInput(page: Page): Promise<boolean> {
  return (await apiGet<ConsoleSettings>(page.request, '/api/settings')).recordInput;
}

test.afterEach(async ({ page, stack }) => {
  // Whatever happened, the other specs' sessions are not to record keystrokes.
  await page.context().clearCookies();
  await apiLogin(page.request, stack.admin);
  const r = await page.request.put('/api/settings', { data: { recordInput: false }, headers: { origin: consoleOrigin() } });
  expect(r.status()).toBe(200);
});

test('turning keystroke recording on asks first and says passwords will be recorded (Cancel and Esc leave it off); the terminal then says keystrokes are recorded; turning it off does not ask', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  await page.goto('/');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  const box = page.getByRole('checkbox', { name: 'Record keystrokes' });
  const dialog = page.getByRole('dialog', { name: 'Record keystrokes?' });
  await expect(box).not.toBeChecked();

  await box.click();
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('passwords too');
  await expect(box).not.toBeChecked();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(box).toBeFocused();
  await expect(box).not.toBeChecked();
  await page.keyboard.press('Space');
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  expect(await recordInput(page)).toBe(false);

  await page.keyboard.press('Space');
  await dialog.getByRole('button', { name: 'Yes, record keystrokes' }).click();
  await expect(dialog).toBeHidden();
  await expect(box).toBeChecked();
  expect(await recordInput(page)).toBe(true);

  // The terminal's status line says so, loudly, and it is true: the session's recording holds keystrokes.
  expect(await sessionRecordsKeystrokes(page, stack.devices.shell, /Recorded, keystrokes too: passwords you type are recorded/)).toBe(true);

  await page.goto('/settings');
  await expect(box).toBeChecked();
  await box.uncheck();
  await expect(dialog).toBeHidden();
  await expect.poll(() => recordInput(page)).toBe(false);

  expect(await sessionRecordsKeystrokes(page, stack.devices.shell, /^\W*Recorded$/)).toBe(false);
});

test('History has no keystroke switch; an operator has no Settings link, is turned away from the page, and the server refuses their change', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  await page.goto('/history');
  await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Record keystrokes' })).toHaveCount(0);

  await page.context().clearCookies();
  await apiLogin(page.request, stack.operator);
  await page.goto('/settings');
  await expect(page.getByRole('alert')).toHaveText('Only admins change settings.');
  await expect(page.getByRole('checkbox', { name: 'Record keystrokes' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Settings', exact: true })).toHaveCount(0);
  const refused = await page.request.put('/api/settings', { data: { recordInput: true }, headers: { origin: consoleOrigin() } });
  expect(refused.status()).toBe(403);
});
