/**
 * "Add device": an admin fills the dialog, gets the line to paste with Copy and a live countdown,
 * runs that line (as the device would: the real install script and device kit from this hub, with
 * a prefix of its own and no systemd), and the device appears online in the list by itself; its
 * Connect opens a shell on it. Operators and viewers have no Add device.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { ROOT } from '../test/harness.js';
import { apiLogin, tag, terminalRegion, typeLine, waitForTerminal, withoutClipboardApi } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

const rowOf = (page: Page, id: string) => page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) });

/** Runs `line` with sh; resolves with its exit code and output (bounded wait). */
function sh(line: string, timeoutMs: number): Promise<{ code: number | null; log: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (d: Buffer): void => {
      log = (log + d.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, log });
    });
  });
}

async function openDialog(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByRole('button', { name: 'Add device' }).click();
  await expect(page.getByRole('dialog', { name: 'Add device' })).toBeVisible();
}

/** Kept in test-results/screenshots (as the console-pages spec keeps the pages'), and attached. */
async function screenshot(page: Page, name: string): Promise<void> {
  const dir = join(ROOT, 'test-results', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path });
  await test.info().attach(`${name}.png`, { path, contentType: 'image/png' });
}

/** axe-core's violations, one line each (rule, impact, where). */
async function axeViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact ?? '?'}): ${n.target.join(' ')} — ${n.failureSummary?.replace(/\s+/g, ' ') ?? v.help}`));
}

test('the dialog has no axe-core violation at 390, 820 and 1280 px, in its form (with an error) and with the command, and fits the width', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  for (const width of [390, 820, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await openDialog(page);
    const dialog = page.getByRole('dialog', { name: 'Add device' });
    await dialog.getByLabel('Tags').fill('no-equals-sign');
    await dialog.getByLabel('Device id or pattern').fill(`e2e-axe-${width}-*`);
    await dialog.getByRole('button', { name: 'Create install command' }).click();
    await expect(dialog.getByRole('alert')).toBeVisible();
    expect.soft(await axeViolations(page), `form at ${width} px`).toEqual([]);
    await screenshot(page, `add-device-form-${width}`);
    await dialog.getByLabel('Tags').fill('site=axe');
    await dialog.getByRole('button', { name: 'Create install command' }).click();
    await expect(dialog.getByLabel('Install command')).toBeVisible();
    expect.soft(await axeViolations(page), `command at ${width} px`).toEqual([]);
    await screenshot(page, `add-device-command-${width}`);
    const box = await dialog.boundingBox();
    expect(box?.x ?? -1).toBeGreaterThanOrEqual(0);
    expect((box?.x ?? 0) + (box?.width ?? Infinity)).toBeLessThanOrEqual(width);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect(dialog).toBeHidden();
  }
});

test('operators and viewers have no Add device', async ({ page, stack }) => {
  for (const account of [stack.operator, stack.viewer]) {
    await page.context().clearCookies();
    await apiLogin(page.request, account);
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Devices', level: 1 })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Add device' })).toHaveCount(0);
  }
});

test('the dialog names a wrong field, and Esc closes it with the focus back on Add device', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  await openDialog(page);
  const dialog = page.getByRole('dialog', { name: 'Add device' });
  await expect(dialog.getByLabel('Device id or pattern')).toBeFocused();
  await dialog.getByLabel('Device id or pattern').fill('e2e-wrong');
  await dialog.getByLabel('Other services').fill('ssh=127.0.0.1');
  await dialog.getByRole('button', { name: 'Create install command' }).click();
  await expect(dialog.getByRole('alert')).toHaveText(/^Service "ssh=127\.0\.0\.1" needs HOST:PORT/);
  await expect(dialog.getByLabel('Other services')).toBeFocused();
  await expect(dialog.getByLabel('Other services')).toHaveAttribute('aria-invalid', 'true');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('button', { name: 'Add device' })).toBeFocused();
});

test('in the Add device dialog, where navigator.clipboard is missing (as over plain HTTP), Copy still puts the install command on the clipboard, says Copied. and keeps the focus on Copy', async ({ page, stack }) => {
  await apiLogin(page.request, stack.admin);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const clipboard = await withoutClipboardApi(page);
  await openDialog(page);
  expect(await page.evaluate(() => navigator.clipboard === undefined)).toBe(true);
  const dialog = page.getByRole('dialog', { name: 'Add device' });
  await dialog.getByLabel('Device id or pattern').fill(`e2e-copy-${tag()}`);
  await dialog.getByRole('button', { name: 'Create install command' }).click();
  const pre = dialog.getByLabel('Install command');
  await expect(pre).toContainText('--token ds1.');
  const command = (await pre.textContent()) ?? '';
  await clipboard.write('before');
  const copy = dialog.getByRole('button', { name: 'Copy the install command' });
  await copy.click();
  await expect(dialog.getByText('Copied.')).toBeVisible();
  expect(await clipboard.read()).toBe(command);
  await expect(copy).toBeFocused();
});

test('an admin adds a device: the line to paste and its countdown; run on the device, it comes online by itself and Connect opens its shell', async ({ page, stack }) => {
  test.setTimeout(180_000);
  const deviceId = `e2e-added-${tag()}`;
  await apiLogin(page.request, stack.admin);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await openDialog(page);
  const dialog = page.getByRole('dialog', { name: 'Add device' });

  let command = '';
  await test.step('fill the form and get the install command, with Copy focused and a live countdown', async () => {
    await dialog.getByLabel('Device id or pattern').fill(deviceId);
    await dialog.getByLabel('Tags').fill('site=e2e\nline=a');
    await expect(dialog.getByRole('checkbox', { name: 'Terminal (shell)' })).toBeChecked();
    await dialog.getByLabel('Token valid for').selectOption({ label: '15 minutes' });
    await dialog.getByRole('button', { name: 'Create install command' }).click();
    const pre = dialog.getByLabel('Install command');
    await expect(pre).toContainText('--token ds1.');
    command = (await pre.textContent()) ?? '';
    expect(command).toMatch(/--ca-sha256 [0-9a-f]{64}/);
    expect(command).toContain(`${stack.baseURL}/install.sh`);
    const copy = dialog.getByRole('button', { name: 'Copy the install command' });
    await expect(copy).toBeFocused();
    await copy.click();
    await expect(dialog.getByText('Copied.')).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(command);
    const countdown = dialog.locator('.countdown');
    const first = (await countdown.textContent()) ?? '';
    expect(first).toMatch(/^1[45]:\d\d$/);
    await expect(countdown).not.toHaveText(first, { timeout: 3000 });
  });

  // The global setup builds the kit the hub serves.
  expect(existsSync(join(ROOT, 'dist', 'device-kit', 'kit.json')), 'dist/device-kit/kit.json').toBe(true);

  // A prefix the agent's account (nobody: no account is created on this machine) can reach.
  const root = mkdtempSync(join(tmpdir(), 'ds-e2e-kit-'));
  chmodSync(root, 0o755);
  const prefix = join(root, 'devicestreams');
  try {
    await test.step('the line, pasted on the device with a prefix and no systemd, installs and enrolls it', async () => {
      // The line ends with the install script's arguments: more can be added after them.
      expect(command).toMatch(/ --ca-sha256 [0-9a-f]{64}$/);
      const line = `${command} --prefix ${prefix} --no-systemd --user nobody`;
      const run = await sh(line, 120_000);
      expect(run.code, run.log).toBe(0);
      expect(run.log).toContain(`enrolled as device "${deviceId}"`);
    });

    await test.step('the device shows up online in the list by itself, with its agent version', async () => {
      await page.keyboard.press('Escape');
      await expect(dialog).toBeHidden();
      const row = rowOf(page, deviceId);
      await expect(row).toContainText('Online', { timeout: 20_000 });
      await expect(row).toContainText(/agent \d+\.\d+\.\d+/);
    });

    await test.step('Connect opens a shell on it', async () => {
      await rowOf(page, deviceId).getByRole('link', { name: `Connect to ${deviceId}` }).click();
      await expect(page.getByRole('status')).toHaveText('Connected', { timeout: 20_000 });
      await waitForTerminal(page, /\$ ?$/m);
      await terminalRegion(page).region.click();
      const word = `added-${tag()}`;
      await typeLine(page, `echo ${word}-$((6*7))`);
      await waitForTerminal(page, new RegExp(`^${word}-42\\s*$`, 'm'));
      // Ended, not detached: a session left waiting would show on the devices page of later tests.
      await typeLine(page, 'exit');
      await expect(page.getByRole('status')).toHaveText('Shell exited with code 0');
    });
  } finally {
    // The install script stops what it started (by its pid files) and removes the prefix; any
    // process it left behind is named and stopped here.
    const pidDir = join(prefix, 'pid');
    if (existsSync(pidDir)) {
      const pids = readdirSync(pidDir).map((f) => Number(readFileSync(join(pidDir, f), 'utf8').trim())).filter((n) => n > 0);
      const r = spawnSync('sh', [join(ROOT, 'device', 'kit', 'install.sh'), '--uninstall', '--prefix', prefix], { encoding: 'utf8', timeout: 30_000 });
      expect.soft(r.status, `install.sh --uninstall: ${r.stderr}`).toBe(0);
      const leftRunning: number[] = [];
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
          leftRunning.push(pid);
        } catch {
          // ESRCH: gone, as it should be.
        }
      }
      expect.soft(leftRunning, 'processes the install started and --uninstall left running').toEqual([]);
    }
    rmSync(root, { recursive: true, force: true });
  }
});
