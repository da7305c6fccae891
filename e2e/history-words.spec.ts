/** The History page in people's words: a refused attempt reads as such, has no duration, and keeps its codes in its details. */
import { apiLogin, streamLog } from './fixtures/console.js';
import { expect, test } from './fixtures/test.js';

test('a refused attempt reads "refused by the device" with no duration, and its Details keep the result code and the reason', async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  await page.goto(`/terminal/${stack.devices.rejects}`);
  await expect(page.getByRole('status')).toContainText('rejected the terminal');
  const entry = (await streamLog(page.request, `deviceId=${stack.devices.rejects}&operator=${stack.operator.name}`))[0];
  expect(entry).toMatchObject({ result: 'rejected', state: 'ended' });
  // The log has a wait for the device's answer as its duration; the page must not call it one.
  expect(entry?.durationMs).not.toBeNull();

  await page.goto(`/history?device=${stack.devices.rejects}`);
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `${stack.devices.rejects} shell` }) }).first();
  const cells = row.getByRole('cell');
  await expect(cells.nth(1).locator('time')).toHaveAttribute('datetime', entry?.createdAt ?? 'missing');
  await expect(cells.nth(2)).toHaveText('—');
  await expect(cells.nth(3).locator('.badge')).toHaveText('refused by the device');
  const details = cells.nth(3).getByRole('group');
  await details.getByText('Details').click();
  await expect(details).toContainText('rejected');
  await expect(details).toContainText(entry?.reason ?? 'missing');
  await expect(details).toContainText(entry?.streamId ?? 'missing');
});

test("History's Result filter offers every result the hub records, nodeLost (a cluster node's streams) included, and filtering by it asks the log for it", async ({ page, stack }) => {
  await apiLogin(page.request, stack.operator);
  await page.goto('/history');
  const options = await page.getByLabel('Result', { exact: true }).locator('option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value).filter((v) => v !== ''));
  expect(options).toEqual(['accepted', 'rejected', 'deviceNotFound', 'deviceOffline', 'responseTimeout', 'handshakeTimeout', 'throttled', 'hubRestart', 'nodeLost']);
  const asked = page.waitForRequest((r) => r.url().includes('/api/streams') && r.url().includes('result=nodeLost'));
  await page.getByLabel('Result', { exact: true }).selectOption('nodeLost');
  await asked;
});
