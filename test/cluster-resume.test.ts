/**
 * A resumable stream in a two-node cluster (PostgreSQL, NATS, haproxy) whose carrying node is
 * SIGKILLed: both sides come back through the balancer, the survivor's streaming endpoint takes the
 * stream over (once the dead node's lease is gone), and the bytes go on without loss or repeat.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../server/store/open.js';
import type { Store } from '../server/store/store.js';
import type { ResumableStream } from '../shared/resumable-stream.js';
import { startAgent, startEchoServer, stopAll, tempDir } from './harness.js';
import { until } from './fixtures/fault-helpers.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let c: TestCluster;
let store: Store;

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2 });
  store = await openStore({ dataDir: tempDir(), url: c.storeUrl });
}, 120_000);

afterAll(async () => {
  await store.close();
  await stopAll();
});

describe('a resumable stream in a cluster', () => {
  it('SIGKILL of the node whose endpoint carries it: both sides resume through the survivor and 16 MiB echo back intact, in order and once', async () => {
    const echo = await startEchoServer();
    await startAgent(c.handle, 'roam-dev', [`echo=127.0.0.1:${echo.port}`], ['--max-backoff', '2']);
    const events: string[] = [];
    const s = (await c.handle.service.initiateStream('roam-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } })) as ResumableStream;
    const carrier = (await store.streams.get(s.streamId ?? ''))?.gatewayNode;
    const deadIndex = c.nodes.findIndex((n) => n.id === carrier);
    expect(deadIndex).toBeGreaterThanOrEqual(0);
    const survivor = c.nodes[1 - deadIndex]?.id;

    const data = randomBytes(16 * MiB);
    const chunks: Buffer[] = [];
    let got = 0;
    const all = new Promise<Buffer>((resolve, reject) => {
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= data.length) resolve(Buffer.concat(chunks));
      });
    });
    let off = 0;
    const writeUpTo = async (n: number): Promise<void> => {
      for (; off < n; off += 64 * 1024) {
        if (!s.write(data.subarray(off, Math.min(n, off + 64 * 1024)))) await new Promise((r) => s.once('drain', r));
      }
    };
    await writeUpTo(data.length / 2);
    await until('some of it back', () => (got >= MiB ? true : undefined));
    await c.kill(deadIndex);
    await writeUpTo(data.length);
    const back = await all;
    expect(back.length).toBe(data.length);
    expect(sha256(back)).toBe(sha256(data));
    expect(events).toEqual(['interrupted', 'resumed']);

    const record = await store.streams.get(s.streamId ?? '');
    expect(record).toMatchObject({ gatewayNode: survivor, interruptions: 1, resumes: 1 });
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.end();
    await closed;
    await until('the end recorded', async () => ((await store.streams.get(s.streamId ?? ''))?.state === 'ended' ? true : undefined));
    // Both directions ended (half-close each way): whichever side saw the last acknowledgement closes, normally.
    const ended = await store.streams.get(s.streamId ?? '');
    expect(ended?.closeCode).toBe(1000);
    expect(['service', 'device']).toContain(ended?.closedBy);
    await c.restart(deadIndex);
  }, 180_000);
});
