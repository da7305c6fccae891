/**
 * Device apps across the nodes of a cluster: a handoff the console makes on one node is redeemed
 * on another (the key is the cluster's), once in the whole cluster (its use is claimed on the bus),
 * and the app cookie works on every node, reaching a device whose channel another node holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoWeb, type DemoWeb } from '../scripts/demo-web.js';
import { ConsoleClient } from './console-client.js';
import { startAgent, stopAll } from './harness.js';
import { AppClient, cookieOf } from './fixtures/app-client.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

const ADMIN_PASSWORD = 'cluster-apps-admin';
let c: TestCluster;
let web: DemoWeb;
let consoleOn0: ConsoleClient;
let operator: string;

/** The app's client through node `i`'s own port. */
function appOn(i: number, origin: string): AppClient {
  const u = new URL(origin);
  u.port = String(c.nodes[i]?.port ?? 0);
  return new AppClient(u.origin, c.handle.ca);
}

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2, env: { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  web = await startDemoWeb({ name: 'ca-dev' });
  // The device's control channel lives on node 2; the console is used through node 1.
  await startAgent(c.handle, 'ca-dev', [`http=127.0.0.1:${web.port}`], ['--hub-url', c.nodes[1]?.url ?? '']);
  consoleOn0 = new ConsoleClient({ ...c.handle, url: c.nodes[0]?.url ?? '' });
  const admin = await consoleOn0.login('admin', ADMIN_PASSWORD);
  expect((await consoleOn0.call('POST', '/api/operators', { cookie: admin, body: { name: 'clara', password: 'clara-password', role: 'operator' } })).status).toBe(201);
  operator = await consoleOn0.login('clara', 'clara-password');
}, 180_000);

afterAll(async () => {
  await stopAll();
  await web?.close();
});

describe('device apps in a cluster', () => {
  it('redeems a handoff made on node 1 through node 2, once in the whole cluster, and serves the app from both', async () => {
    const h = await consoleOn0.call('POST', '/api/apps/handoff', { cookie: operator, body: { deviceId: 'ca-dev', service: 'http' } });
    expect(h.status).toBe(200);
    const { url, origin } = h.json as { url: string; origin: string };
    const path = `${new URL(url).pathname}${new URL(url).search}`;
    const redeemed = await appOn(1, origin).get(path);
    expect(redeemed.status).toBe(303);
    const cookie = cookieOf(redeemed.headers['set-cookie'], '__Host-ds_app')?.pair ?? '';
    expect(cookie).not.toBe('');
    // The same link through the other node: already used.
    const again = await appOn(0, origin).get(path);
    expect(again.status).toBe(401);
    expect(again.text).toMatch(/used already/);
    for (const i of [0, 1]) {
      const page = await appOn(i, origin).get('/app.js', { cookie });
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/loaded from \/app\.js/);
    }
    const log = await c.handle.service.listStreams({ deviceId: 'ca-dev' });
    expect(log.streams.filter((s) => s.streamName === 'http').map((s) => s.operator)).toContain('clara');
  });
});
