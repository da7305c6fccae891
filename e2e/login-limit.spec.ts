/** The login page after failed attempts: focus on the message, and a rate-limit wait that counts down. */
import { request } from '@playwright/test';
import { consoleOrigin, tag } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

test('after a wrong password the focus is on the error message (role=alert)', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Username').fill(`nobody-${tag()}`);
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toHaveText('Wrong user name or password.');
  await expect(alert).toBeFocused();
});

test('a rate-limited login counts "Try again in N seconds" down live, keeps Log in disabled until 0, with focus on the message', async ({ page, stack }) => {
  // A name of its own: 5 free failures, then waits of 1, 2, 4 s (server/bff/login-limiter.ts), so
  // the page's attempt meets a wait of about 4 s. 7 failures stay well under the address's 20.
  const name = `limited-${tag()}`;
  const api = await request.newContext({ baseURL: stack.baseURL, ignoreHTTPSErrors: true });
  try {
    const fail = async (): Promise<void> => {
      const r = await api.post('/api/login', { data: { username: name, password: 'wrong' }, headers: { origin: consoleOrigin() } });
      expect(r.status()).toBe(401);
    };
    for (let i = 0; i < 5; i++) await fail();
    await page.waitForTimeout(1100);
    await fail();
    await page.waitForTimeout(2100);
    await fail();
  } finally {
    await api.dispose();
  }

  await page.goto('/login');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill('wrong-again');
  const submit = page.getByRole('button', { name: 'Log in' });
  await submit.click();
  const alert = page.getByRole('alert');
  await expect(alert).toHaveText(/^Too many login attempts\. Try again in \d seconds?\.$/);
  await expect(alert).toBeFocused();
  const first = Number(/in (\d+)/.exec(await alert.innerText())?.[1]);
  expect(first).toBeGreaterThanOrEqual(2);
  expect(first).toBeLessThanOrEqual(4);
  await expect(submit).toBeDisabled();
  // It counts down without another request: one second less within 1.5 s.
  await expect(alert).toHaveText(`Too many login attempts. Try again in ${first - 1} second${first - 1 === 1 ? '' : 's'}.`, { timeout: 1500 });
  await expect(submit).toBeDisabled();
  await expect(alert).toHaveText('Too many login attempts before; you can try again now.', { timeout: first * 1000 + 500 });
  await expect(submit).toBeEnabled();
});
