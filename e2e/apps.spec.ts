/**
 * A device's web app opened from the console in a real browser: one click on the device's row
 * opens its own origin (`{device}--http.apps.localhost`), where a page with an absolute-path script
 * and a WebSocket echo works; scripts there can read neither the console's API nor its cookie; a
 * viewer gets no way in; the stream log names the operator.
 */
import type { Page } from '@playwright/test';
import { apiLogin, consoleOrigin, streamLog } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

/** Opens the device's web app from its row on the Devices page; resolves with the app's tab. */
async function openFromConsole(page: Page, deviceId: string): Promise<Page> {
  await page.goto('/');
  const button = page.getByRole('button', { name: `Open web app of ${deviceId} (http)` });
  const popup = page.waitForEvent('popup');
  await button.click();
  const app = await popup;
  await app.waitForURL(/\.apps\.localhost:\d+\/$/);
  return app;
}

test('an operator opens a device web app with one click; its script, WebSocket and event stream work on its own origin', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const app = await openFromConsole(page, stack.devices.web);
  expect(new URL(app.url()).origin).toBe(`https://${stack.devices.web}--http.apps.localhost:${new URL(stack.baseURL).port}`);
  await expect(app.getByRole('heading', { name: stack.devices.web })).toBeVisible();
  await expect(app.locator('#script')).toHaveText('loaded from /app.js');
  await expect(app.locator('#ws')).toHaveText('echo: ping');
  await app.getByLabel('Send to the echo').fill('typed in the app');
  await app.getByRole('button', { name: 'Send' }).click();
  await expect(app.locator('#ws')).toHaveText('echo: typed in the app');
  await expect(app.locator('#events')).toHaveText(/count [2-9]/, { timeout: 15_000 });
  // The app cookie is HttpOnly: the app's own scripts cannot read it either.
  expect(await app.evaluate(() => document.cookie)).toBe('');
});

test('scripts on the app origin cannot read the console API, and the console cookie never reaches the device', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const app = await openFromConsole(page, stack.devices.web);
  await expect(app.locator('#ws')).toHaveText('echo: ping');
  const consoleApi = `${consoleOrigin()}/api/me`;
  const attempt = await app.evaluate(async (url) => {
    try {
      const r = await fetch(url, { credentials: 'include' });
      return `read ${r.status}: ${await r.text()}`;
    } catch (err) {
      return `blocked: ${String(err)}`;
    }
  }, consoleApi);
  expect(attempt).toMatch(/^blocked: TypeError/);
  const post = await app.evaluate(async (url) => {
    try {
      const r = await fetch(url, { method: 'POST', credentials: 'include', mode: 'no-cors', body: '{}' });
      return r.type;
    } catch (err) {
      return `blocked: ${String(err)}`;
    }
  }, `${consoleOrigin()}/api/logout`);
  // An opaque no-cors POST goes out, but the console refuses it (wrong Origin): the operator is still logged in.
  expect(post).toMatch(/opaque|blocked/);
  expect((await page.request.get('/api/me')).status()).toBe(200);

  const cookies = JSON.parse(await app.evaluate(async () => (await fetch('/cookies-seen')).text())) as string[];
  expect(cookies.length).toBeGreaterThan(3);
  for (const c of cookies) {
    expect(c).not.toMatch(/ds_session/);
    expect(c).not.toMatch(/ds_app/);
  }
});

test('only a device whose agent serves http or https offers Open web app', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  await page.goto('/');
  // e2e-web maps http; e2e-device maps shell and files only.
  await expect(page.getByRole('button', { name: `Open web app of ${stack.devices.web} (http)` })).toBeVisible();
  await expect(page.getByRole('link', { name: `Connect to ${stack.devices.shell}` }).first()).toBeVisible();
  await expect(page.getByRole('button', { name: `Open web app of ${stack.devices.shell} (http)` })).toHaveCount(0);
});

test('a viewer has no Open web app, and the console refuses the handoff', async ({ page, stack }) => {
  await apiLogin(page.request, stack.viewer);
  await page.goto('/');
  const row = page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: stack.devices.web, exact: true }) });
  await expect(row).toContainText('Online');
  await expect(page.getByRole('button', { name: /Open web app/ })).toHaveCount(0);
  const r = await page.request.post('/api/apps/handoff', { data: { deviceId: stack.devices.web, service: 'http' }, headers: { origin: consoleOrigin() } });
  expect(r.status()).toBe(403);
  expect(await r.text()).toMatch(/operators and admins/);
  // And the app origin without the console's pass says where to go.
  const app = await page.context().newPage();
  await app.goto(`https://${stack.devices.web}--http.apps.localhost:${new URL(stack.baseURL).port}/`);
  await expect(app.getByRole('heading', { name: 'Open this app from the console' })).toBeVisible();
});

test('the stream log names the operator who opened the app', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  const app = await openFromConsole(page, stack.devices.web);
  await expect(app.locator('#script')).toHaveText('loaded from /app.js');
  const streams = await streamLog(page.request, `deviceId=${stack.devices.web}`);
  const http = streams.filter((s) => s.streamName === 'http');
  expect(http.length).toBeGreaterThan(0);
  expect(new Set(http.map((s) => s.operator))).toEqual(new Set([stack.operator.name]));
  await page.getByRole('link', { name: 'History', exact: true }).click();
  const row = page.getByRole('table').getByRole('row').filter({ hasText: stack.devices.web }).first();
  await expect(row).toContainText(stack.operator.name);
});
