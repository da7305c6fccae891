/**
 * The registry for a fleet, against a real hub: Azure's paging of GET /devices (at most 1,000 a
 * page, continued with x-ms-continuation), our filters on it, the counts at GET /statistics/devices,
 * and the change feed at GET /registry/events that tells a console what to read again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followRegistry, type RegistryBatch } from '../server/sdk/registry-feed.js';
import { DsError } from '../shared/errors.js';
import type { DeviceDescription } from '../server/sdk/service-client.js';
import { startAgent, startHub, stopAll, type HubHandle } from './harness.js';
import { until } from './console-client.js';

let hub: HubHandle;
const FLEET = 1203;

beforeAll(async () => {
  hub = await startHub();
  // Through the REST API, 20 at a time.
  for (let i = 0; i < FLEET; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, FLEET - i) }, (_, j) => hub.service.createDevice(`fleet-${String(i + j).padStart(5, '0')}`)));
  }
});

afterAll(stopAll);

async function page(query: string, continuation?: string): Promise<{ ids: string[]; next: string | undefined; status: number; body: unknown }> {
  let r;
  try {
    r = await hub.service.call('GET', `/devices${query}`, continuation === undefined ? {} : { headers: { 'x-ms-continuation': continuation } });
  } catch (err) {
    return { ids: [], next: undefined, status: err instanceof DsError ? err.status : 0, body: String(err) };
  }
  const next = r.headers['x-ms-continuation'];
  return { ids: (r.body as DeviceDescription[]).map((d) => d.deviceId), next: typeof next === 'string' ? next : undefined, status: r.status, body: r.body };
}

describe('registry paging', () => {
  it('gives at most 1,000 devices a page and continues with x-ms-continuation until every device was listed once, in id order', async () => {
    const first = await page('');
    expect(first.ids).toHaveLength(1000);
    expect(first.next).toBeDefined();
    const second = await page('', first.next);
    expect(second.ids).toHaveLength(FLEET - 1000);
    expect(second.next).toBeUndefined();
    const all = [...first.ids, ...second.ids];
    expect(all).toEqual([...all].sort());
    expect(new Set(all).size).toBe(FLEET);
    const big = await page('?top=5000');
    expect(big.ids).toHaveLength(1000);
  });

  it('pages by top, filters by part of the id, status and connection state, and refuses a forged continuation', async () => {
    const small = await page('?top=7&search=FLEET-0012');
    expect(small.ids).toEqual(['fleet-00120', 'fleet-00121', 'fleet-00122', 'fleet-00123', 'fleet-00124', 'fleet-00125', 'fleet-00126']);
    expect((await page('?top=7&search=FLEET-0012', small.next)).ids).toEqual(['fleet-00127', 'fleet-00128', 'fleet-00129']);
    await hub.service.updateDevice('fleet-00007', { status: 'disabled' });
    expect((await page('?status=disabled')).ids).toEqual(['fleet-00007']);
    await startAgent(hub, 'fleet-00042', []);
    expect((await page('?connectionState=Connected')).ids).toEqual(['fleet-00042']);
    expect((await page('?connectionState=Connected&search=zz')).ids).toEqual([]);
    expect((await page('', 'not-a-token')).status).toBe(400);
    expect((await page('?status=sleeping')).status).toBe(400);
  });

  it('counts the fleet at GET /statistics/devices as Azure does, with the connected count', async () => {
    const s = await hub.service.deviceStatistics();
    expect(Object.keys(s).sort()).toEqual(['connectedDeviceCount', 'disabledDeviceCount', 'enabledDeviceCount', 'totalDeviceCount']);
    const devices: string[] = [];
    for (let next: string | undefined, first = true; first || next !== undefined; first = false) {
      const p = await page('', next);
      devices.push(...p.ids);
      next = p.next;
    }
    expect(s.totalDeviceCount).toBe(devices.length);
    expect(s.enabledDeviceCount + s.disabledDeviceCount).toBe(s.totalDeviceCount);
    expect(s.disabledDeviceCount).toBe((await page('?status=disabled')).ids.length);
    expect(s.connectedDeviceCount).toBe((await page('?connectionState=Connected')).ids.length);
  });
});

describe('registry change feed', () => {
  /** Follows GET /registry/events and collects its batches. */
  function follow(): { batches: RegistryBatch[]; close(): void } {
    const batches: RegistryBatch[] = [];
    const follower = followRegistry(hub.service, (b) => batches.push(b));
    return { batches, close: () => follower.close() };
  }

  it('names the devices created, changed, connected and deleted', async () => {
    const feed = follow();
    await new Promise((r) => setTimeout(r, 300));
    await hub.service.createDevice('feed-a');
    await hub.service.updateDevice('feed-a', { status: 'disabled' });
    await hub.service.updateDevice('feed-a', { status: 'enabled' });
    await startAgent(hub, 'feed-b', []);
    await hub.service.deleteDevice('feed-a');
    const named = (): string[] => feed.batches.flatMap((b) => (b as { deviceIds?: string[] }).deviceIds ?? []);
    await until(() => named().includes('feed-a') && named().includes('feed-b'), 5000, 'feed-a and feed-b named');
    expect(feed.batches.every((b) => 'deviceIds' in b)).toBe(true);
    feed.close();
  });
});

