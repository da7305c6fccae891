/**
 * The Devices page with a fleet of 100,000 registered devices, on a hub of its own (the shared
 * stack has three devices). Registering 100,000 devices through the REST API takes minutes, so the
 * hub is started once to create its store, stopped, given the devices straight in its SQLite file
 * in one transaction, and started again on the same data directory; one real agent connects one
 * of them.
 */
import { expect, test, type Page } from '@playwright/test';
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { startAgent, startHub, stopAll, tempDir, type HubHandle, type Proc } from '../test/harness.js';

const FLEET = 100_000;
const fleetId = (i: number): string => `fleet-${String(i).padStart(6, '0')}`;
/** The 99,987th device: near the end, on page 2,000 of 2,000. */
const NEAR_END = fleetId(99_986);
const CONNECTED = fleetId(50_000);
const ADMIN_PASSWORD = 'fleet-admin-password';
/** How long the page must sit without a request to the console when nothing changes. */
const QUIET_MS = 5000;

let hub: HubHandle;
let agent: Proc;
/** Every device key and the hub's own key: none may reach the browser. */
const secrets = new Set<string>();

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  const dataDir = tempDir('ds-e2e-fleet-');
  const first = await startHub([], dataDir, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  secrets.add(first.ownerCs.split('SharedAccessKey=')[1] ?? 'never');
  first.proc.kill('SIGTERM');
  await first.proc.exited;

  const db = new Database(join(dataDir, 'hub.db'));
  try {
    const insert = db.prepare(
      `INSERT INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_updated_time, created_time)
       VALUES (?, ?, ?, ?, ?, 'enabled', ?, ?)`,
    );
    const now = new Date().toISOString();
    db.transaction(() => {
      for (let i = 0; i < FLEET; i++) {
        const primary = randomBytes(32).toString('base64');
        const secondary = randomBytes(32).toString('base64');
        secrets.add(primary).add(secondary);
        insert.run(fleetId(i), randomUUID(), randomBytes(6).toString('base64url'), primary, secondary, now, now);
      }
    })();
  } finally {
    db.close();
  }

  hub = await startHub([], dataDir, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  agent = await startAgent(hub, CONNECTED, []);
});

test.afterAll(stopAll);

/**
 * Every /api/ request the page makes from now on, and a check of every answer body for a key
 * (word-like runs of base64 looked up among the 200,000 device keys and the hub's key).
 */
function watchApi(page: Page): { requests: string[]; leaks: string[]; settle(): Promise<void> } {
  const requests: string[] = [];
  const leaks: string[] = [];
  const reads: Array<Promise<void>> = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/api/')) requests.push(`${r.method()} ${url.pathname}${url.search}`);
  });
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith('/api/') || (r.headers()['content-type'] ?? '').startsWith('text/event-stream')) return;
    reads.push(
      r.text().then(
        (body) => {
          for (const token of body.match(/[A-Za-z0-9+/=]{20,}/g) ?? []) if (secrets.has(token)) leaks.push(`${url.pathname}: a key`);
        },
        () => undefined,
      ),
    );
  });
  return { requests, leaks, settle: async () => void (await Promise.allSettled(reads)) };
}

test('with 100,000 registered devices the page shows 100,000 registered and 1 online, finds the 99,987th by search, shows the connected one online, and makes no request to /api for 5 s while nothing changes', async ({ page }) => {
  test.setTimeout(120_000);
  const api = watchApi(page);
  const login = await page.request.post(`${hub.url}/api/login`, { data: { username: 'admin', password: ADMIN_PASSWORD }, headers: { origin: new URL(hub.url).origin } });
  expect(login.status()).toBe(200);
  await page.goto(`${hub.url}/`);
  const counts = page.getByText(/ registered · /);
  const ids = page.getByRole('table').getByRole('rowheader');
  const search = page.getByRole('searchbox', { name: 'Search devices' });

  await test.step('the true counts, and the first page of 50 in id order', async () => {
    await expect(counts).toHaveText('100,000 registered · 1 online');
    await expect(ids).toHaveCount(50);
    await expect(ids.first()).toHaveText(fleetId(0));
    await expect(ids.last()).toHaveText(fleetId(49));
    await page.getByRole('button', { name: 'Next' }).click();
    await expect(ids.first()).toHaveText(fleetId(50));
    await expect(page.getByText('Page 2', { exact: true })).toBeVisible();
  });

  await test.step('searching finds the 99,987th device, and the search survives a reload', async () => {
    await search.fill(NEAR_END);
    await expect(ids).toHaveText([NEAR_END]);
    await expect(page).toHaveURL(new RegExp(`[?&]search=${NEAR_END}(&|$)`));
    await page.reload();
    await expect(search).toHaveValue(NEAR_END);
    await expect(ids).toHaveText([NEAR_END]);
    await search.fill('no-such-device');
    await expect(page.getByRole('table')).toContainText('No device matches “no-such-device”.');
  });

  await test.step('the connected device shows online, by search and as the only one under the Online filter', async () => {
    await search.fill(CONNECTED);
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: CONNECTED, exact: true }) });
    await expect(row).toContainText('Online');
    await search.fill('');
    await page.getByLabel('Connection').selectOption('online');
    await expect(ids).toHaveText([CONNECTED]);
    await expect(page).toHaveURL(/[?&]online=online(&|$)/);
  });

  await test.step(`with nothing changing, no request to /api for ${QUIET_MS / 1000} s (the live-updates stream stays open)`, async () => {
    await expect(page.getByText('Live', { exact: true })).toBeVisible();
    expect(api.requests).toContain('GET /api/fleet/events');
    // Let what the last step started finish: wait for 1.5 s without a request (a page that polls
    // faster than that never gets there and fails here), then count from zero.
    await expect
      .poll(
        async () => {
          const n = api.requests.length;
          await page.waitForTimeout(1500);
          return api.requests.length === n;
        },
        { timeout: 15_000, intervals: [0] },
      )
      .toBe(true);
    const before = api.requests.length;
    await page.waitForTimeout(QUIET_MS);
    expect(api.requests.slice(before)).toEqual([]);
  });

  await test.step('when the device disconnects, the page shows it by itself: 0 online, the Online list empty', async () => {
    const before = api.requests.length;
    agent.kill();
    await expect(counts).toHaveText('100,000 registered · 0 online');
    await expect(page.getByRole('table')).toContainText('No device is online.');
    const refetches = api.requests.slice(before);
    // Only what is on screen was read again: the summary and this one page, never the fleet.
    expect(refetches.length).toBeGreaterThan(0);
    expect(refetches.every((r) => r === 'GET /api/fleet/summary' || r === 'GET /api/devices?online=true&limit=50')).toBe(true);
  });

  await api.settle();
  expect(api.leaks).toEqual([]);
});
