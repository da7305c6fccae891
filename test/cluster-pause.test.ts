/**
 * A cluster node that stalls (SIGSTOP: a long GC pause, a VM frozen, an overloaded machine) past
 * one lease but short of two is only late; past two it is reaped by the other node while it still
 * holds its devices. When it runs
 * again it hears that it was reaped and writes again what it holds, so the registry does not call
 * its devices connected nowhere until its next full presence check (a minute).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { sleep, startAgent, startEchoServer, stopAll } from './harness.js';
import { until } from './console-client.js';
import { startTestCluster, type ClusterNode, type TestCluster } from './fixtures/cluster.js';

let c: TestCluster;
let startedAt = 0;

beforeAll(async () => {
  // A 15 s heartbeat: the device keeps its connection through the pause (its watchdog allows 31 s).
  c = await startTestCluster({ nodes: 2, args: ['--heartbeat-interval', '15'] });
  startedAt = Date.now();
}, 120_000);

afterAll(stopAll);

/** Starts an agent for `deviceId` held by node-1 (an echo service); a client of node-2. */
async function deviceOnFirst(deviceId: string): Promise<{ first: ClusterNode; second: ClusterNode; viaSecond: ServiceClient }> {
  const [first, second] = c.nodes;
  if (first === undefined || second === undefined) throw new Error('two nodes expected');
  const echoPort = (await startEchoServer()).port;
  await startAgent(c.handle, deviceId, [`echo=127.0.0.1:${echoPort}`], ['--hub-url', first.url]);
  return { first, second, viaSecond: createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: second.url, requestTimeoutMs: 10_000 }) };
}

describe('a node paused past its lease', () => {
  it('is not reaped for an 11 s pause, past one lease and short of two (its key lapsed, its renewal only late): its device stays connected in the registry throughout', async () => {
    const { first, second, viaSecond } = await deviceOnFirst('late-dev');
    // The reaper acts only on a view of the leases at least two leases old (12 s).
    await sleep(Math.max(0, 13_000 - (Date.now() - startedAt)));
    const before = second.proc.output().length;
    first.proc.kill('SIGSTOP');
    const states: string[] = [];
    try {
      // 11 s: past the 6 s lease (its key is gone from the bucket about 8 s in, when a reaper that
      // waited one lease took it for dead), short of two leases without a sighting (about 17 s in).
      for (const end = Date.now() + 11_000; Date.now() < end; await sleep(500)) states.push((await viaSecond.getDevice('late-dev')).connectionState);
    } finally {
      first.proc.kill('SIGCONT');
    }
    expect(second.proc.output().slice(before)).not.toMatch(/is gone/);
    expect(new Set(states)).toEqual(new Set(['Connected']));
    // And after the pause: nothing had to be written again.
    expect((await viaSecond.getDevice('late-dev')).connectionState).toBe('Connected');
  }, 90_000);

  it('is reaped by the other node, and once it runs again its devices are connected in the registry within 8 s (not after its one-minute presence check)', async () => {
    const { first, second, viaSecond } = await deviceOnFirst('paused-dev');
    expect((await viaSecond.getDevice('paused-dev')).connectionState).toBe('Connected');
    // Well after the first test's pause: node-1 renewed and was seen again since.
    await sleep(3000);
    first.proc.kill('SIGSTOP');
    try {
      await until(() => /cluster: node node-1 is gone/.test(second.proc.output()), 30_000, 'node-2 reaping node-1');
      expect((await viaSecond.getDevice('paused-dev')).connectionState).toBe('Disconnected');
    } finally {
      first.proc.kill('SIGCONT');
    }
    const resumedAt = Date.now();
    await until(async () => (await viaSecond.getDevice('paused-dev')).connectionState === 'Connected', 8000, 'the registry to say connected again');
    expect(Date.now() - resumedAt).toBeLessThan(8000);
    expect(first.proc.output()).toMatch(/cluster: node node-2 took this node for gone \(its lease lapsed\); writing again the devices it holds/);
    // The device never left node-1: it still answers through it.
    const s = await viaSecond.initiateStream('paused-dev', 'echo', { connectTimeoutSeconds: 2 });
    const back = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    s.write('still here');
    expect(await back).toBe('still here');
    s.end();
  }, 90_000);
});
