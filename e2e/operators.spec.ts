/** Admins manage console accounts on the Operators page; nobody else gets in. */
import { request } from '@playwright/test';
import type { Page } from '@playwright/test';
import type { Me, Role } from '../shared/console-api.js';
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
  await page.getByRole('dialog', { name: `Make ${name} a viewer?` }).getByRole('button', { name: `Yes, make ${name} viewer`, exact: true }).click();
  await expect(row.getByRole('status')).toHaveText(`Saved: ${name} is now viewer.`);
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

/** The account's role as the server has it. */
async function roleOf(page: Page, name: string): Promise<Role | undefined> {
  return (await apiGet<{ operators: Array<{ name: string; role: Role }> }>(page.request, '/api/operators')).operators.find((o) => o.name === name)?.role;
}

test('with the keyboard, ArrowUp on a role asks first (the new role\'s powers, and that their terminals and live watches end); Enter on Cancel and Esc put the select back unsaved; Yes saves it and the row\'s status says Saved', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const name = `victor-${tag()}`;
  const created = await page.request.post('/api/operators', { data: { name, password: `pw-${tag()}-${tag()}`, role: 'viewer' }, headers: { origin: consoleOrigin() } });
  expect(created.status(), await created.text()).toBe(201);
  await page.goto('/operators');
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
  const select = page.getByRole('combobox', { name: `Role of ${name}`, exact: true });
  const toOperator = page.getByRole('dialog', { name: `Make ${name} an operator?` });
  await expect(select).toHaveValue('viewer');

  // One key press only asks.
  await select.focus();
  await page.keyboard.press('ArrowUp');
  await expect(toOperator).toBeVisible();
  await expect(toOperator).toContainText('connect to devices');
  await expect(toOperator).toContainText('open terminals and live watches end');
  await expect(toOperator.getByRole('button', { name: 'Cancel', exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(toOperator).toBeHidden();
  await expect(select).toHaveValue('viewer');
  await expect(select).toBeFocused();
  expect(await roleOf(page, name)).toBe('viewer');

  await page.keyboard.press('ArrowUp');
  await expect(toOperator).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(toOperator).toBeHidden();
  await expect(select).toHaveValue('viewer');
  await expect(select).toBeFocused();
  expect(await roleOf(page, name)).toBe('viewer');

  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Tab');
  await expect(toOperator.getByRole('button', { name: `Yes, make ${name} operator`, exact: true })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(toOperator).toBeHidden();
  await expect(row.getByRole('status')).toHaveText(`Saved: ${name} is now operator.`);
  await expect(select).toHaveValue('operator');
  await expect(select).toBeFocused();
  expect(await roleOf(page, name)).toBe('operator');

  // Towards admin, the dialog says what an admin may do.
  await page.keyboard.press('ArrowUp');
  const toAdmin = page.getByRole('dialog', { name: `Make ${name} an admin?` });
  await expect(toAdmin).toContainText('manage operators');
  await expect(toAdmin).toContainText('open terminals and live watches end');
  await page.keyboard.press('Enter');
  await expect(toAdmin).toBeHidden();
  await expect(select).toHaveValue('operator');
  expect(await roleOf(page, name)).toBe('operator');
  // A new question clears the old "Saved".
  await expect(row.getByRole('status')).toHaveText('');
});

test('Add operator holds a name to 64 characters and a password to 256 (the server\'s limits) and says in words what is wrong before sending: an empty name, a name with a space, a short password', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/operators') posts.push(r.url());
  });
  await page.goto('/operators');
  const form = page.getByRole('form', { name: 'Add operator' });
  const nameInput = form.getByLabel('Name', { exact: true });
  const passwordInput = form.getByLabel('Password', { exact: true });
  const add = form.getByRole('button', { name: 'Add', exact: true });
  const alert = form.getByRole('alert');

  await nameInput.fill('n'.repeat(200));
  await expect(nameInput).toHaveValue('n'.repeat(64));
  await passwordInput.fill('p'.repeat(300));
  await expect(passwordInput).toHaveValue('p'.repeat(256));
  await expect(nameInput).toHaveAccessibleDescription('Up to 64 letters, digits and . _ @ -');

  await nameInput.fill('');
  await add.click();
  await expect(alert).toHaveText('Type a name for the account.');
  await expect(nameInput).toBeFocused();

  await nameInput.fill('night shift');
  await add.click();
  await expect(alert).toHaveText('The name "night shift" has a character a name may not have: use only letters, digits and . _ @ -');
  await expect(nameInput).toHaveAttribute('aria-invalid', 'true');

  await nameInput.fill(`night-${tag()}`);
  // A changed field takes the old message away.
  await expect(alert).toHaveCount(0);
  await passwordInput.fill('short');
  await add.click();
  await expect(alert).toHaveText('The password must be at least 8 characters.');
  await expect(passwordInput).toBeFocused();
  await expect(form).not.toContainText('Field "');
  expect(posts, 'POST /api/operators').toEqual([]);
});
