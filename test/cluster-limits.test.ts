/**
 * Stream limits hold across the cluster, not per node: a device's concurrent-stream cap counts the
 * streams other nodes opened, and the initiation rate is one bucket for all nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { DsError } from '../shared/errors.js';
import { startAgent, startEchoServer, stopAll } from './harness.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

const RATE = 5;
let c: TestCluster;
const via: ServiceClient[] = [];

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2, args: ['--max-streams-per-device', '1', '--max-initiations', String(RATE)] });
  for (const n of c.nodes) via.push(createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: n.url }));
}, 120_000);

afterAll(stopAll);

const codeOf = (e: unknown): number | string => (e instanceof DsError ? e.code : String(e));

describe('cluster-wide limits', () => {
  it('refuses a second stream to a device on node 2 while node 1 carries its one allowed stream (429001), and allows it once that ends', async () => {
    const echo = await startEchoServer();
    await startAgent(c.handle, 'one-stream-dev', [`echo=127.0.0.1:${echo.port}`]);
    const first = await (via[0] as ServiceClient).initiateStream('one-stream-dev', 'echo');
    const second = await (via[1] as ServiceClient).initiateStream('one-stream-dev', 'echo').then(() => 'accepted', codeOf);
    expect(second).toBe(429001);
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    first.resume(); // read to the end, so the stream can finish
    first.end();
    await closed;
    // The end is recorded by the endpoint's report; give it a moment, then the slot is free again.
    let third: unknown;
    for (let i = 0; i < 20; i++) {
      third = await (via[1] as ServiceClient).initiateStream('one-stream-dev', 'echo').then((s) => { s.end(); return 'accepted'; }, codeOf);
      if (third === 'accepted') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(third).toBe('accepted');
  });

  it(`shares one initiation bucket of ${RATE}/s between the nodes: a burst split over both gets at most ${RATE} plus the refill, the rest 429003`, async () => {
    // Offline devices answer at once (connect timeout 0), so only the rate limits them.
    const ids = Array.from({ length: 16 }, (_, i) => `rate-dev-${i}`);
    await Promise.all(ids.map((id) => c.handle.service.createDevice(id)));
    // Let the bucket fill up after the setup above.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    const outcomes = await Promise.all(ids.map((id, i) => (via[i % 2] as ServiceClient).initiateStream(id, 'x', { connectTimeoutSeconds: 0 }).then(() => 'accepted', codeOf)));
    const elapsedS = (Date.now() - t0) / 1000;
    const passed = outcomes.filter((o) => o !== 429003).length;
    console.log(`cluster-limits: burst of ${ids.length} over two nodes in ${Math.round(elapsedS * 1000)} ms: ${passed} passed the rate limit, outcomes ${JSON.stringify(outcomes)}`);
    // Those that passed the bucket were offline: 404103.
    for (const o of outcomes) expect([404103, 429003]).toContain(o);
    expect(passed).toBeGreaterThanOrEqual(RATE);
    expect(passed).toBeLessThanOrEqual(Math.floor(RATE + RATE * elapsedS));
    // Both nodes were refused some: the bucket is shared, not per node.
    const refusedBy = [0, 1].map((n) => outcomes.filter((o, i) => i % 2 === n && o === 429003).length);
    expect(refusedBy[0]! + refusedBy[1]!).toBeGreaterThanOrEqual(ids.length - Math.floor(RATE + RATE * elapsedS));
  });
});
