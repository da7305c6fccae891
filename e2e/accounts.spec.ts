/** Safe account actions on the Operators page: confirmations, a reset shown once, your own password by form. */
import { request, type Locator, type Page } from '@playwright/test';
import { apiLogin, consoleOrigin, tag, withoutClipboardApi } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';
import type { Account } from './fixtures/stack-env.js';

/** A fresh account made through the API by the stack's admin (the page's context is logged in as admin). */
async function addAccount(page: Page, role: 'admin' | 'operator' | 'viewer'): Promise<Account> {
  const account = { name: `e2e-acct-${tag()}`, password: `pw-${tag()}-${tag()}` };
  const r = await page.request.post('/api/operators', { data: { ...account, role }, headers: { origin: consoleOrigin() } });
  expect(r.status(), await r.text()).toBe(201);
  return account;
}

/** The status of a login as `name` with `password`, from a context of its own. */
async function loginStatus(baseURL: string, name: string, password: string): Promise<number> {
  const other = await request.newContext({ baseURL, ignoreHTTPSErrors: true });
  try {
    return (await other.post('/api/login', { data: { username: name, password }, headers: { origin: consoleOrigin() } })).status();
  } finally {
    await other.dispose();
  }
}

const rowOf = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

/** Fills the own-password form (the new one twice) and submits it. */
async function submitPasswordForm(form: Locator, current: string, next: string, again = next): Promise<void> {
  await form.getByLabel('Current password', { exact: true }).fill(current);
  await form.getByLabel('New password', { exact: true }).fill(next);
  await form.getByLabel('New password again', { exact: true }).fill(again);
  await form.getByRole('button', { name: 'Change password' }).click();
}

test('a reset asks first (Cancel and Esc change nothing, focus back on Reset), then shows the new password once with Copy and says it will not be shown again', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const other = await addAccount(page, 'operator');
  await page.goto('/operators');
  const reset = page.getByRole('button', { name: `Reset password for ${other.name}`, exact: true });
  const dialog = page.getByRole('dialog', { name: `Reset the password of ${other.name}?` });

  await reset.click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Enter'); // Enter on the first focus cancels
  await expect(dialog).toBeHidden();
  await expect(reset).toBeFocused();
  await reset.press('Enter');
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(reset).toBeFocused();
  expect(await loginStatus(stack.baseURL, other.name, other.password)).toBe(200);

  await reset.click();
  await dialog.getByRole('button', { name: `Yes, reset ${other.name}`, exact: true }).click();
  await expect(dialog).toBeHidden();
  const shown = rowOf(page, other.name).getByRole('group', { name: `New password for ${other.name}:` });
  await expect(shown).toContainText('It will not be shown again');
  const password = (await shown.locator('code').innerText()).trim();
  expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
  const copy = shown.getByRole('button', { name: 'Copy the password', exact: true });
  await expect(copy).toBeFocused();
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await copy.click();
  await expect(shown).toContainText('Copied.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(password);

  expect(await loginStatus(stack.baseURL, other.name, other.password)).toBe(401);
  expect(await loginStatus(stack.baseURL, other.name, password)).toBe(200);
  await shown.getByRole('button', { name: 'Done', exact: true }).click();
  await expect(shown).toHaveCount(0);
  await expect(reset).toBeFocused();
  // Once: after a reload the password is nowhere on the page.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Operators' })).toBeVisible();
  await expect(page.getByText(password)).toHaveCount(0);
});

test('where navigator.clipboard is missing (as on a console reached over plain HTTP), Copy still puts the new password on the clipboard, says Copied. and keeps the focus on Copy', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const other = await addAccount(page, 'operator');
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const clipboard = await withoutClipboardApi(page);
  await page.goto('/operators');
  expect(await page.evaluate(() => navigator.clipboard === undefined)).toBe(true);
  await clipboard.write('before');
  await page.getByRole('button', { name: `Reset password for ${other.name}`, exact: true }).click();
  await page.getByRole('dialog', { name: `Reset the password of ${other.name}?` }).getByRole('button', { name: `Yes, reset ${other.name}`, exact: true }).click();
  const shown = rowOf(page, other.name).getByRole('group', { name: `New password for ${other.name}:` });
  const password = (await shown.locator('code').innerText()).trim();
  expect(password).toMatch(/^[A-Za-z0-9]{16}$/);
  const copy = shown.getByRole('button', { name: 'Copy the password', exact: true });
  await copy.click();
  await expect(shown).toContainText('Copied.');
  expect(await clipboard.read()).toBe(password);
  await expect(copy).toBeFocused();
});

test('a deletion asks first: Cancel keeps the account, "Yes, delete" removes it and focus goes to the table', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const other = await addAccount(page, 'viewer');
  await page.goto('/operators');
  const del = page.getByRole('button', { name: `Delete ${other.name}`, exact: true });
  const dialog = page.getByRole('dialog', { name: `Delete the account ${other.name}?` });
  await del.click();
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(del).toBeFocused();
  await expect(rowOf(page, other.name)).toHaveCount(1);
  expect(await loginStatus(stack.baseURL, other.name, other.password)).toBe(200);

  await del.click();
  await dialog.getByRole('button', { name: `Yes, delete ${other.name}`, exact: true }).click();
  await expect(rowOf(page, other.name)).toHaveCount(0);
  await expect(page.getByRole('table', { name: 'Console accounts' })).toBeFocused();
  expect(await loginStatus(stack.baseURL, other.name, other.password)).toBe(401);
});

test("an admin's own row offers no reset but links to the password form on the account page; the form refuses a wrong current password and mismatched new ones, then changes it and keeps the admin logged in", async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const me = await addAccount(page, 'admin');
  await page.context().clearCookies();
  await apiLogin(page.request, me);
  await page.goto('/operators');
  const own = rowOf(page, `${me.name} (you)`);
  await expect(own).toHaveCount(1);
  await expect(own.getByRole('button', { name: /Reset password/ })).toHaveCount(0);
  // Operators has no password form of its own: the one place is the account page.
  await expect(page.getByRole('form', { name: 'Change your password' })).toHaveCount(0);
  await own.getByRole('link', { name: 'Change your password on your account page' }).click();
  await expect(page).toHaveURL(/\/account#change-password$/);
  const form = page.getByRole('form', { name: 'Change your password' });
  await expect(form).toBeFocused();

  const newPassword = `new-${tag()}-${tag()}`;
  await submitPasswordForm(form, 'not-my-password', newPassword);
  await expect(form.getByRole('alert')).toHaveText('The current password is wrong; your password was not changed.');

  await form.getByLabel('Current password', { exact: true }).fill(me.password);
  await form.getByLabel('New password again', { exact: true }).fill(`${newPassword}x`);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(form.getByRole('alert')).toHaveText('The two new passwords differ; type the same one twice.');
  expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(200);

  await form.getByLabel('New password again', { exact: true }).fill(newPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(form.getByRole('status')).toHaveText(/Your password was changed/);
  await expect(form.getByRole('alert')).toHaveCount(0);
  expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(401);
  expect(await loginStatus(stack.baseURL, me.name, newPassword)).toBe(200);
  // Still logged in: a reload (the fragment still in the address) stays on the page with the
  // form focused again, and the header's Log out.
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await expect(form).toBeFocused();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
});

test('past the page, an admin cannot reset their own password either: the reset (PATCH) and a change without the current password are refused, and the old password still logs in', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const me = await addAccount(page, 'admin');
  await page.context().clearCookies();
  await apiLogin(page.request, me);
  const headers = { origin: consoleOrigin() };
  const reset = await page.request.patch(`/api/operators/${me.name}`, { data: { password: `reset-${tag()}-${tag()}` }, headers });
  expect(reset.status()).toBe(400);
  expect(await reset.text()).toContain('with your current one');
  const noCurrent = await page.request.post('/api/me/password', { data: { newPassword: `new-${tag()}-${tag()}` }, headers });
  expect(noCurrent.status()).toBe(400);
  const wrongCurrent = await page.request.post('/api/me/password', { data: { currentPassword: 'not-it', newPassword: `new-${tag()}-${tag()}` }, headers });
  expect(wrongCurrent.status()).toBe(403);
  expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(200);
});

for (const role of ['operator', 'viewer'] as const) {
  test(`a${role === 'operator' ? 'n' : ''} ${role} opens their account from their name in the header and changes their own password there (the current one first); Operators points them to it`, async ({ page, stack }) => {
    await apiLogin(page.request, stack.admin);
    const me = await addAccount(page, role);
    await page.context().clearCookies();
    await apiLogin(page.request, me);

    // Operators is for admins: the page says where a non-admin's own password is.
    await page.goto('/operators');
    await expect(page.getByRole('alert')).toContainText('Only admins manage operators.');
    await page.getByRole('link', { name: 'your account', exact: true }).click();
    await expect(page).toHaveURL(/\/account$/);
    await page.goto('/');
    await page.getByRole('link', { name: `${me.name}, your account`, exact: true }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(`Signed in as ${me.name}, role ${role}.`);

    const form = page.getByRole('form', { name: 'Change your password' });
    const newPassword = `new-${tag()}-${tag()}`;
    await submitPasswordForm(form, 'not-my-password', newPassword);
    await expect(form.getByRole('alert')).toHaveText('The current password is wrong; your password was not changed.');
    expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(200);

    await submitPasswordForm(form, me.password, newPassword);
    await expect(form.getByRole('status')).toHaveText(/Your password was changed/);
    expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(401);
    expect(await loginStatus(stack.baseURL, me.name, newPassword)).toBe(200);
    await page.reload();
    await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  });
}

test("the own-password form's messages follow the input: after mismatched new passwords, 'abc' twice says it is too short, and the current password as the new one is refused; a stale message goes once the input changes, and nothing is sent until it is right", async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const me = await addAccount(page, 'operator');
  await page.context().clearCookies();
  await apiLogin(page.request, me);
  const sent: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/me/password') sent.push(r.method());
  });
  await page.goto('/account');
  const form = page.getByRole('form', { name: 'Change your password' });
  const alert = form.getByRole('alert');
  const fresh = `new-${tag()}-${tag()}`;

  await submitPasswordForm(form, me.password, fresh, `${fresh}x`);
  await expect(alert).toHaveText('The two new passwords differ; type the same one twice.');

  await form.getByLabel('New password', { exact: true }).fill('abc');
  // The message was about the input before: it goes as soon as the input changes.
  await expect(alert).toHaveCount(0);
  await form.getByLabel('New password again', { exact: true }).fill('abc');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(alert).toHaveText('The new password must be at least 8 characters.');
  await expect(form.getByLabel('New password', { exact: true })).toBeFocused();
  await expect(form.getByLabel('New password', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(form.getByLabel('New password', { exact: true })).toHaveAccessibleDescription('The new password must be at least 8 characters.');

  await submitPasswordForm(form, me.password, me.password);
  await expect(alert).toHaveText('The new password is the same as your current one; choose another.');

  expect(sent, 'requests to /api/me/password').toEqual([]);
  expect(await loginStatus(stack.baseURL, me.name, me.password)).toBe(200);

  await submitPasswordForm(form, me.password, fresh);
  await expect(form.getByRole('status')).toHaveText(/Your password was changed/);
  await expect(alert).toHaveCount(0);
  expect(sent).toEqual(['POST']);
  expect(await loginStatus(stack.baseURL, me.name, fresh)).toBe(200);
});
