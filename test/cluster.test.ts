/**
 * Two hub nodes on a real PostgreSQL and NATS behind Debian's haproxy, as a deployment runs them:
 * routing between nodes, cluster-wide rules, the loss of a node, and the store and bus restarting.
 */
import { policyToken } from './fixtures/bad-input-helpers.js';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { openStore } from '../server/store/open.js';
import type { Store } from '../server/store/store.js';
import { DsError } from '../shared/errors.js';
import { sleep, startAgent, startEchoServer, stopAll, tempDir, type Proc } from './harness.js';
import { until } from './console-client.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

let c: TestCluster;
let store: Store;
let echoPort: number;
const via: ServiceClient[] = [];

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2 });
  store = await openStore({ dataDir: tempDir(), url: c.storeUrl });
  echoPort = (await startEchoServer()).port;
  for (const n of c.nodes) via.push(createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: n.url }));
}, 120_000);

afterAll(async () => {
  await store.close();
  await stopAll();
});

/** Registers `deviceId` and starts its agent on node `index` (its control channel lives there). */
async function agentOn(index: number, deviceId: string): Promise<Proc> {
  const node = c.nodes[index];
  if (node === undefined) throw new Error(`no node ${index}`);
  return startAgent(c.handle, deviceId, [`echo=127.0.0.1:${echoPort}`], ['--hub-url', node.url]);
}

async function holder(deviceId: string): Promise<string | null> {
  return (await store.devices.get(deviceId))?.connectedNode ?? null;
}

async function echoThrough(service: ServiceClient, deviceId: string, text: string): Promise<string> {
  const s = await service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 10, responseTimeoutSeconds: 10 });
  const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
  s.write(text);
  const answer = await got;
  s.end();
  return `${answer}|${s.streamId ?? ''}`;
}

function get(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { ca: c.handle.ca, agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('routing between nodes', () => {
  it('reaches a device held by node 1 from a stream initiated on node 2, carried by node 2\'s endpoint', async () => {
    await agentOn(0, 'route-dev');
    await until(async () => (await holder('route-dev')) === 'node-1', 5000, 'the store to show route-dev on node-1');
    const [text, streamId] = (await echoThrough(via[1] as ServiceClient, 'route-dev', 'across nodes')).split('|');
    expect(text).toBe('across nodes');
    await until(async () => (await store.streams.get(streamId ?? ''))?.state === 'ended', 5000, 'the end recorded');
    expect(await store.streams.get(streamId ?? '')).toMatchObject({ node: 'node-2', gatewayNode: 'node-2', result: 'accepted', bytesToDevice: 12, bytesFromDevice: 12 });
  });

  it('through the balancer, streams initiated on either node reach a device wherever it is', async () => {
    await agentOn(1, 'lb-dev');
    const lb = c.handle.service;
    for (let i = 0; i < 4; i++) expect((await echoThrough(lb, 'lb-dev', `lb ${i}`)).split('|')[0]).toBe(`lb ${i}`);
  });

  it('answers 404103 for a device connected nowhere within the connect timeout, and reaches one that connects to the other node during the wait', async () => {
    await c.handle.service.createDevice('late-dev');
    const t0 = Date.now();
    const err = await (via[0] as ServiceClient).initiateStream('late-dev', 'echo', { connectTimeoutSeconds: 1 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DsError);
    expect((err as DsError).code).toBe(404103);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const waiting = (via[0] as ServiceClient).initiateStream('late-dev', 'echo', { connectTimeoutSeconds: 20, responseTimeoutSeconds: 10 });
    await sleep(1000);
    await agentOn(1, 'late-dev');
    const s = await waiting;
    const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    s.write('you came');
    expect(await got).toBe('you came');
    s.end();
  });

  it('refuses a stream token at another node\'s endpoint, and uses it once at its own', async () => {
    await agentOn(0, 'token-dev');
    const r = await (via[0] as ServiceClient).call('POST', '/twins/token-dev/streams/echo', {});
    const url = String(r.headers['iothub-streaming-url']);
    const token = String(r.headers['iothub-streaming-auth-token']);
    expect(url.startsWith(c.nodes[0]?.url.replace(/^http/, 'ws') ?? 'none')).toBe(true);
    const other = url.replace(String(c.nodes[0]?.port), String(c.nodes[1]?.port));
    const refused = await upgrade(other, token);
    expect(refused.status).toBe(401);
    expect((JSON.parse(refused.body) as { message: string }).message).toMatch(/for the streaming endpoint of node "node-1"/);
    expect((await upgrade(url, token)).status).toBe(101);
    expect((await upgrade(url, token)).status).toBe(401);
  });
});

/** Tries a bridge upgrade; resolves with the HTTP status (101 when it opened) and any error body. */
function upgrade(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, ca: c.handle.ca });
    ws.on('open', () => {
      resolve({ status: 101, body: '' });
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

describe('cluster-wide rules', () => {
  it('drops a device disabled through one node from the other within 1 s, and ends its stream there', async () => {
    const agent = await agentOn(1, 'disable-dev');
    const s = await (via[1] as ServiceClient).initiateStream('disable-dev', 'echo');
    const closed = new Promise<number>((resolve) => {
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now()));
    });
    const from = agent.output().length;
    const t0 = Date.now();
    await (via[0] as ServiceClient).updateDevice('disable-dev', { status: 'disabled' });
    await until(() => /disconnected from the hub: device disabled or deleted/.test(agent.output().slice(from)), 2000, 'the agent dropped');
    expect(Date.now() - t0).toBeLessThan(1000 + 100);
    expect((await closed) - t0).toBeLessThan(1000);
    await until(async () => (await store.streams.get(s.streamId ?? ''))?.state === 'ended', 5000, 'the end recorded');
    expect(await store.streams.get(s.streamId ?? '')).toMatchObject({ closedBy: 'hub', closeCode: 4004, reason: 'device disabled in the registry' });
  });

  it('shows each node\'s own devices in its metrics, labelled with its id, and each node alive and ready', async () => {
    await agentOn(0, 'metric-dev-1');
    const held = async (node: string): Promise<number> => (await store.devices.page({ online: true, limit: 10_000 })).filter((d) => d.connectedNode === node).length;
    for (const [i, n] of c.nodes.entries()) {
      const m = await get(n.url, '/metrics', { authorization: policyToken(c.handle) });
      const reported = Number(new RegExp(`^devicestreams_connected_devices\\{node="${n.id}"\\} (\\d+)$`, 'm').exec(m.body)?.[1] ?? 'NaN');
      expect([i, reported]).toEqual([i, await held(n.id)]);
      expect((await get(n.url, '/healthz')).status).toBe(200);
      expect((await get(n.url, '/readyz')).status).toBe(200);
    }
  });
});

describe('a node stopping', () => {
  it('records its devices offline and the end of the streams its endpoint carried in the store before it exits on SIGTERM (nobody has to reap it), and holds the devices again once started', async () => {
    await agentOn(1, 'stop-dev-1');
    await agentOn(1, 'stop-dev-2');
    await agentOn(0, 'stop-dev-3');
    expect([await holder('stop-dev-1'), await holder('stop-dev-2')]).toEqual(['node-2', 'node-2']);
    // Streams initiated on node 2 are carried by its endpoint: one to a device of each node, left open.
    const open = await Promise.all(['stop-dev-1', 'stop-dev-3'].map(async (id) => {
      const s = await (via[1] as ServiceClient).initiateStream(id, 'echo', { connectTimeoutSeconds: 10, responseTimeoutSeconds: 10, resumable: false });
      s.on('error', () => undefined);
      return s.streamId ?? '';
    }));
    for (const id of open) await until(async () => (await store.streams.get(id))?.state === 'open', 5000, `stream ${id} open in the store`);
    const node = c.nodes[1] as (typeof c.nodes)[number];
    node.proc.kill('SIGTERM');
    expect(await node.proc.exited).toBe(0);
    // Read as soon as it is gone: the other node's reaper (a lease, 6 s, then its timer) has not run.
    expect([await holder('stop-dev-1'), await holder('stop-dev-2')]).toEqual([null, null]);
    for (const id of open) expect(await store.streams.get(id)).toMatchObject({ state: 'ended', closedBy: 'hub', reason: 'hub shut down' });
    await c.restart(1);
    // The agents were pinned to that node: they come back to it by themselves.
    await until(async () => (await holder('stop-dev-1')) === 'node-2' && (await holder('stop-dev-2')) === 'node-2', 30_000, 'both devices held by node-2 again');
  }, 90_000);
});
