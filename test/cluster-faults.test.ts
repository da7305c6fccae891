/**
 * A two-node cluster losing its parts: a node SIGKILLed while it holds a device and carries a
 * stream, then PostgreSQL and NATS each stopped and started again under light load.
 */
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { openStore } from '../server/store/open.js';
import type { Store } from '../server/store/store.js';
import { DsError } from '../shared/errors.js';
import { sleep, startAgent, startEchoServer, stopAll, tempDir } from './harness.js';
import { until } from './console-client.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

let c: TestCluster;
let echoPort: number;
const via: ServiceClient[] = [];

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2 });
  echoPort = (await startEchoServer()).port;
  for (const n of c.nodes) via.push(createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: n.url, requestTimeoutMs: 10_000 }));
}, 120_000);

afterAll(stopAll);

/** Resolves with the first value `fn` gives that is not undefined, checking every 100 ms for `ms`. */
async function eventually<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(100);
  }
}

/** Opens a store client for the test's own checks; closes it after `fn`. */
async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore({ dataDir: tempDir(), url: c.storeUrl });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function echo(service: ServiceClient, deviceId: string, text: string): Promise<string> {
  const s = await service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 2, responseTimeoutSeconds: 5 });
  s.on('error', () => undefined);
  const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
  s.write(text);
  const answer = await got;
  s.end();
  return answer;
}

function getJson(url: string, path: string, auth?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { ca: c.handle.ca, agent: false, timeout: 10_000, headers: auth === undefined ? {} : { authorization: auth } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // plain text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('a node lost', () => {
  it('SIGKILL of the node holding a device: the device is reachable through the balancer again within 15 s, the registry is intact, and the dead node\'s stream records end as nodeLost within 30 s', async () => {
    // Through the balancer, retrying fast, as a deployment's agents do (capped backoff).
    await startAgent(c.handle, 'lost-dev', [`echo=127.0.0.1:${echoPort}`], ['--max-backoff', '2']);
    const dead = await eventually(async () => withStore(async (s) => (await s.devices.get('lost-dev'))?.connectedNode ?? undefined), 5000, 'the device held somewhere');
    const deadIndex = c.nodes.findIndex((n) => n.id === dead);
    const survivor = via[1 - deadIndex] as ServiceClient;
    // A stream carried by the node about to die (initiated there, so its endpoint carries it).
    const carried = await (via[deadIndex] as ServiceClient).initiateStream('lost-dev', 'echo');
    carried.on('error', () => undefined);
    const before = (await c.handle.service.listDevicePage({ top: 1000 })).devices.map((d) => [d.deviceId, d.status, d.etag]);

    const killedAt = Date.now();
    await c.kill(deadIndex);
    // The agent reconnects through the balancer to the survivor; streams work from there.
    await until(async () => (await echo(c.handle.service, 'lost-dev', 'after the loss').catch(() => '')) === 'after the loss', 15_000, 'a stream through the balancer');
    const reachableMs = Date.now() - killedAt;
    expect(reachableMs).toBeLessThan(15_000);
    expect(await echo(survivor, 'lost-dev', 'again')).toBe('again');
    const after = (await c.handle.service.listDevicePage({ top: 1000 })).devices.map((d) => [d.deviceId, d.status, d.etag]);
    expect(after).toEqual(before);

    await until(async () => withStore(async (s) => (await s.streams.get(carried.streamId ?? ''))?.state === 'ended'), 30_000 - (Date.now() - killedAt), 'the carried stream\'s record ended');
    const record = await withStore((s) => s.streams.get(carried.streamId ?? ''));
    expect(record).toMatchObject({ state: 'ended', closedBy: 'hub', reason: `nodeLost: node ${dead} stopped` });
    const stillLive = await withStore(async (s) => (await s.streams.liveNodes()).includes(dead));
    expect(stillLive).toBe(false);
    console.log(`cluster-faults: ${dead} killed; device reachable again after ${reachableMs} ms; its stream record ended ${Date.now() - killedAt} ms after the kill (at most)`);
    await c.restart(deadIndex);
  });
});

describe('the store and the bus restarting', () => {
  it('PostgreSQL stopped: nodes answer 503 StoreUnavailable (readyz too) and keep running; started again: they serve by themselves and nothing committed is lost', async () => {
    await startAgent(c.handle, 'pg-dev', [`echo=127.0.0.1:${echoPort}`], ['--max-backoff', '2']);
    const auth = ownerAuth();
    // Light load all along: a stream through the balancer every 300 ms.
    const load = lightLoad('pg-dev');
    await sleep(1000);
    await c.pg.stop();
    for (const n of c.nodes) {
      const r = await getJson(n.url, '/devices/pg-dev', auth);
      expect([n.id, r.status, (r.body as { errorCode?: number }).errorCode]).toEqual([n.id, 503, 503002]);
      expect((await getJson(n.url, '/readyz')).status).toBe(503);
    }
    await sleep(2000);
    for (const n of c.nodes) expect(n.proc.child.exitCode).toBeNull();
    await c.pg.start();
    const restartedAt = Date.now();
    await until(async () => (await Promise.all(c.nodes.map((n) => getJson(n.url, '/readyz')))).every((r) => r.status === 200), 20_000, 'every node ready again');
    // The balancer puts the nodes back after two good health checks (half a second apart).
    expect(await eventually(async () => (await c.handle.service.getDevice('pg-dev').catch(() => undefined))?.deviceId, 5000, 'the registry through the balancer')).toBe('pg-dev');
    await until(async () => (await echo(c.handle.service, 'pg-dev', 'store back').catch(() => '')) === 'store back', 20_000, 'streams again');
    await sleep(1500);
    const outcome = await load.stop();
    console.log(`cluster-faults: PostgreSQL restart under load: ${outcome.ok} streams intact, ${outcome.failed.length} failed (${[...new Set(outcome.failed)].join(', ')})`);
    // The load itself came back: streams of it went through after the restart.
    expect(outcome.okAt.filter((t) => t > restartedAt).length).toBeGreaterThanOrEqual(2);
    // While the store was down a stream could fail, but only with the store's 503 or a connection
    // the balancer closed (it takes unready nodes out) — never a wrong answer.
    for (const f of outcome.failed) expect(f).toMatch(/^(503002|connection)/);
  });

  it('NATS stopped: a stream that must cross nodes gets 503 BusUnavailable, readyz says so, a node still serves its own devices; started again: streams cross nodes by themselves', async () => {
    await startAgent(c.handle, 'bus-dev', [`echo=127.0.0.1:${echoPort}`], ['--hub-url', c.nodes[0]?.url ?? '']);
    await c.nats.stop();
    const err = await (via[1] as ServiceClient).initiateStream('bus-dev', 'echo', { connectTimeoutSeconds: 2, responseTimeoutSeconds: 5 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DsError);
    expect((err as DsError).code).toBe(503003);
    for (const n of c.nodes) expect((await getJson(n.url, '/readyz')).status).toBe(503);
    expect(await echo(via[0] as ServiceClient, 'bus-dev', 'held here')).toBe('held here');
    await c.nats.start();
    await until(async () => (await echo(via[1] as ServiceClient, 'bus-dev', 'crossing again').catch(() => '')) === 'crossing again', 20_000, 'streams cross nodes again');
    for (const n of c.nodes) expect(n.proc.child.exitCode).toBeNull();
  });
});

/** Streams through the balancer every 300 ms until stopped; counts the intact ones and how the others failed. */
function lightLoad(deviceId: string): { stop(): Promise<{ ok: number; okAt: number[]; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const okAt: number[] = [];
  const failed: string[] = [];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        if ((await echo(c.handle.service, deviceId, `load ${i}`)) === `load ${i}`) {
          ok += 1;
          okAt.push(Date.now());
        } else {
          failed.push('wrong bytes');
        }
      } catch (err) {
        failed.push(err instanceof DsError ? String(err.code) : `connection: ${err instanceof Error ? err.message.slice(0, 60) : String(err)}`);
      }
      await sleep(300);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, okAt, failed };
    },
  };
}

/** A SAS header of the owner policy, for raw requests to one node. */
function ownerAuth(): string {
  return (c.handle.service.streamingRequest('/').options.headers as Record<string, string>).authorization as string;
}
