/** Admins manage console accounts on the Operators page; nobody else gets in. */
import { request } from '@playwright/test';
import type { Me } from '../shared/console-api.js';
import { apiGet, apiLogin, consoleOrigin, tag } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

test('an admin adds an operator, changes its role and deletes it', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const name = `e2e-op-${tag()}`;
  const password = `pw-${tag()}-${tag()}`;

  await page.goto('/');
  await page.getByRole('link', { name: 'Operators', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Operators' })).toBeVisible();
  // The admin's own row has no Delete.
  await expect(page.getByRole('combobox', { name: `Role of ${stack.admin.name}`, exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: `Delete ${stack.admin.name}`, exact: true })).toHaveCount(0);

  const form = page.getByRole('form', { name: 'Add operator' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await expect(form.getByLabel('Role', { exact: true })).toHaveValue('operator');
  // Generate fills a 16-character password and shows it once; typing replaces it.
  await form.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(form.getByLabel('Password', { exact: true })).toHaveValue(/^[A-Za-z0-9]{16}$/);
  await expect(form.getByText('Generated password:')).toBeVisible();
  await form.getByLabel('Password', { exact: true }).fill(password);
  await expect(form.getByText('Generated password:')).toHaveCount(0);
  await form.getByRole('button', { name: 'Add', exact: true }).click();

  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  await expect(row).toBeVisible();
  const roleSelect = page.getByRole('combobox', { name: `Role of ${name}`, exact: true });
  await expect(roleSelect).toHaveValue('operator');

  await roleSelect.selectOption('viewer');
  await expect(roleSelect).toBeEnabled();
  await expect(roleSelect).toHaveValue('viewer');

  // The new account logs in, in a context of its own, and is a viewer now.
  const other = await request.newContext({ baseURL: stack.baseURL, ignoreHTTPSErrors: true });
  try {
    const r = await other.post('/api/login', { data: { username: name, password }, headers: { origin: consoleOrigin() } });
    expect(r.status(), await r.text()).toBe(200);
    expect((await apiGet<Me>(other, '/api/me')).role).toBe('viewer');
  } finally {
    await other.dispose();
  }

  // A reset password is generated and shown once (e2e/accounts.spec.ts covers the confirmation).
  await page.getByRole('button', { name: `Reset password for ${name}`, exact: true }).click();
  await page.getByRole('button', { name: `Yes, reset ${name}`, exact: true }).click();
  await expect(row.getByRole('group', { name: `New password for ${name}:` }).locator('code')).toHaveText(/^[A-Za-z0-9]{16}$/);
  await row.getByRole('button', { name: 'Done', exact: true }).click();
  await expect(row.getByText(`New password for ${name}:`)).toHaveCount(0);

  await page.getByRole('button', { name: `Delete ${name}`, exact: true }).click();
  await page.getByRole('button', { name: `Yes, delete ${name}`, exact: true }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('a viewer sees no Operators link and is turned away from the page', async ({ page, stack }) => {
  await apiLogin(page.request, stack.viewer);
  await page.goto('/operators');
  await expect(page.getByRole('alert')).toHaveText('Only admins manage operators. To change your own password, open your account.');
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Operators', exact: true })).toHaveCount(0);
  await expect(page.getByRole('table')).toHaveCount(0);
});
