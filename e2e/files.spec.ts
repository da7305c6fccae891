/**
 * Files from the terminal page: an operator chooses a file, uploads it with progress to a path on
 * the device (its file server's root), downloads it back through the browser's own download, and
 * reads a clear refusal for a path out of the root; a viewer has no Files, and the console refuses them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleStream } from '../shared/console-api.js';
import { apiLogin, openTerminal, streamLog, tag } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

const MiB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

test('an operator uploads a chosen file with a progress bar and a dropped one, cancels a slow one, downloads the first back with the same SHA-256, and is told clearly about a path outside the root', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  await openTerminal(page, stack.devices.shell);
  const name = `e2e-${tag()}.bin`;
  const local = join(tmpdir(), name);
  const content = randomBytes(8 * MiB);
  writeFileSync(local, content);

  await page.getByRole('button', { name: 'Files' }).click();
  const panel = page.getByRole('region', { name: `Files on ${stack.devices.shell}` });
  await expect(panel).toBeVisible();

  await test.step('choose a file and upload it: progress, then done, and the device has the same bytes', async () => {
    await panel.getByLabel('Choose a file, or drop one here').setInputFiles(local);
    await panel.getByLabel('Path on the device').fill(`uploads-${name}`);
    // Every state the progress bar shows, recorded in the page as it changes (an 8 MiB upload on
    // loopback is over faster than the test could poll it).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      const note = (): void => {
        for (const p of document.querySelectorAll('progress')) {
          const text = p.getAttribute('aria-valuetext') ?? '';
          if (seen.at(-1) !== text) seen.push(text);
        }
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await panel.getByRole('button', { name: 'Upload' }).click();
    await expect(panel.getByRole('status').filter({ hasText: 'Uploaded' })).toHaveText(`Uploaded uploads-${name} (8 MiB).`, { timeout: 30_000 });
    await expect(panel.getByRole('progressbar')).toHaveCount(0);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(seen.length, JSON.stringify(seen)).toBeGreaterThan(0);
    for (const text of seen) expect(text).toMatch(/^[\d.]+ (B|KiB|MiB) of 8 MiB \(\d+%\)$/);
    const onDevice = join(stack.filesRoot, `uploads-${name}`);
    expect(existsSync(onDevice)).toBe(true);
    expect(sha256(readFileSync(onDevice))).toBe(sha256(content));
  });

  await test.step('a file dropped on the upload form is chosen and uploads too', async () => {
    const dropped = `dropped-${name}.txt`;
    const dataTransfer = await page.evaluateHandle((fileName) => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped on the panel\n'], fileName, { type: 'text/plain' }));
      return dt;
    }, dropped);
    await panel.getByRole('form', { name: 'Upload a file' }).dispatchEvent('drop', { dataTransfer });
    await expect(panel.getByText(`${dropped}, 21 B`)).toBeVisible();
    await panel.getByLabel('Path on the device').fill('');
    await panel.getByRole('button', { name: 'Upload' }).click();
    await expect(panel.getByRole('status').filter({ hasText: 'Uploaded' })).toHaveText(`Uploaded ${dropped} (21 B).`);
    expect(readFileSync(join(stack.filesRoot, dropped), 'utf8')).toBe('dropped on the panel\n');
  });

  await test.step('download it back through the browser\'s download', async () => {
    await panel.getByLabel('Path of the file on the device').fill(`uploads-${name}`);
    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe(`uploads-${name}`);
    const saved = await download.path();
    expect(sha256(readFileSync(saved))).toBe(sha256(content));
    await expect(panel.getByRole('status').filter({ hasText: 'Downloading' })).toContainText('see your browser\'s downloads');
  });

  await test.step('Cancel stops an upload on its way: the panel says so and nothing is left on the device, not even a temporary file', async () => {
    // Uploads on loopback are over at once: Chromium's network emulation slows this one to 1 MiB/s.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: MiB });
    const slow = `cancelled-${name}`;
    const slowLocal = join(tmpdir(), slow);
    writeFileSync(slowLocal, randomBytes(32 * MiB));
    try {
      await panel.getByLabel('Choose a file, or drop one here').setInputFiles(slowLocal);
      await panel.getByLabel('Path on the device').fill(slow);
      await panel.getByRole('button', { name: 'Upload' }).click();
      await expect(panel.getByRole('progressbar')).toHaveAttribute('aria-valuetext', /^[\d.]+ (KiB|MiB) of 32 MiB/, { timeout: 15_000 });
      await panel.getByRole('button', { name: 'Cancel upload' }).click();
      await expect(panel.getByRole('status').filter({ hasText: 'cancelled' })).toHaveText(`Upload of ${slow} cancelled; nothing was written on the device.`);
      await expect(panel.getByRole('progressbar')).toHaveCount(0);
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
      rmSync(slowLocal, { force: true });
    }
    // The file server removes its temporary file when the stream ends short (as soon as the hub
    // sees the browser go): nothing of this upload stays in the root.
    await expect.poll(() => readdirSync(stack.filesRoot).filter((f) => f.includes(slow)), { timeout: 10_000 }).toEqual([]);
  });

  await test.step('a path with ".." is refused with what to do, and nothing is written', async () => {
    await panel.getByLabel('Choose a file, or drop one here').setInputFiles({ name: 'outside.txt', mimeType: 'text/plain', buffer: Buffer.from('outside\n') });
    await panel.getByLabel('Path on the device').fill(`../outside-${name}`);
    await panel.getByRole('button', { name: 'Upload' }).click();
    await expect(panel.getByRole('alert')).toContainText(`Upload of ../outside-${name} failed:`);
    await expect(panel.getByRole('alert')).toContainText('contains "..", which could leave the file server\'s root; use a path relative to the file server\'s --root');
    expect(existsSync(join(stack.filesRoot, '..', `outside-${name}`))).toBe(false);
    await panel.getByLabel('Path of the file on the device').fill('no/such/file.txt');
    await panel.getByRole('button', { name: 'Download' }).click();
    await expect(panel.getByRole('alert').filter({ hasText: 'Cannot download' })).toContainText('no such file or directory on the device; check the path');
  });

  await test.step('the history lists both transfers with name, size and direction', async () => {
    let rows: ConsoleStream[] = [];
    await expect.poll(async () => {
      rows = await streamLog(page.request, `deviceId=${stack.devices.shell}&limit=50`);
      return rows.filter((s) => s.transfer?.name === `uploads-${name}` && s.state === 'ended').map((s) => s.transfer?.direction).sort();
    }).toEqual(['download', 'upload']);
    await page.goto(`/history?device=${stack.devices.shell}`);
    await expect(page.getByText(`uploaded uploads-${name} (8 MiB)`)).toBeVisible();
    await expect(page.getByText(`downloaded uploads-${name} (8 MiB)`)).toBeVisible();
  });

  await test.step('the terminal session\'s recording has markers for the transfers, listed by the replay', async () => {
    const shells = (await streamLog(page.request, `deviceId=${stack.devices.shell}&operator=${stack.operator.name}&limit=50`)).filter((s) => s.streamName === 'shell' && s.recording !== null);
    const newest = shells[0];
    expect(newest).toBeDefined();
    await page.goto(`/replay/${newest?.streamId ?? ''}`);
    await page.getByText(/^Markers \(\d+\)$/).click();
    await expect(page.getByRole('button', { name: `file upload "uploads-${name}" (${8 * MiB} bytes) started by ${stack.operator.name}` })).toBeVisible();
    await expect(page.getByRole('button', { name: `file download "uploads-${name}" (${8 * MiB} bytes) started by ${stack.operator.name}` })).toBeVisible();
    await expect(page.getByRole('button', { name: `file download "uploads-${name}" (${8 * MiB} bytes) done` })).toBeVisible();
    await expect(page.getByRole('button', { name: `file upload "cancelled-${name}" (${32 * MiB} bytes) failed: The browser stopped the upload; nothing was written on the device.` })).toBeVisible();
  });

  await test.step('Escape closes the panel and gives focus back to its button', async () => {
    await page.goto(`/terminal/${stack.devices.shell}`);
    await page.getByRole('button', { name: 'Files' }).click();
    await page.keyboard.press('Escape');
    await expect(page.getByRole('region', { name: `Files on ${stack.devices.shell}` })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Files' })).toBeFocused();
  });
});

test('a viewer\'s terminal page offers no Files, and the console refuses a viewer\'s file download (403)', async ({ page, stack }) => {
  await apiLogin(page.request, stack.viewer);
  await page.goto(`/terminal/${stack.devices.shell}`);
  await expect(page.getByRole('heading', { name: 'No terminal for viewers' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Files' })).toHaveCount(0);
  await expect(page.getByLabel('Choose a file, or drop one here')).toHaveCount(0);
  const download = await page.request.get(`/api/devices/${stack.devices.shell}/files?path=anything.txt`);
  expect(download.status()).toBe(403);
});
