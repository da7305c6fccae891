/**
 * End to end through real processes: hub, agent, echo server and proxy, over real TLS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startEchoServer, startHub, startProxy, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let proxyPort: number;

beforeAll(async () => {
  hub = await startHub();
  const echo = await startEchoServer();
  await startAgent(hub, 'tunnel-dev', [`echo=127.0.0.1:${echo.port}`]);
  proxyPort = (await startProxy(hub, 'tunnel-dev', 'echo')).port;
});

afterAll(stopAll);

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads exactly `n` bytes from the socket, hashing them. */
function readHash(s: Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let got = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      got += d.length;
      if (got >= n) resolve(h.digest('hex'));
    });
    s.once('error', reject);
    s.once('close', () => {
      if (got < n) reject(new Error(`socket closed after ${got} of ${n} bytes`));
    });
  });
}

describe('a stream through devicestreams proxy', () => {
  it('carries 16 MiB of random bytes each way intact', async () => {
    const size = 16 * 1024 * 1024;
    const data = randomBytes(size);
    const sent = createHash('sha256').update(data).digest('hex');
    const s = await open(proxyPort);
    const received = readHash(s, size);
    // Write in uneven pieces so frame boundaries never line up with writes.
    for (let off = 0; off < size; ) {
      const n = Math.min(size - off, 1000 + Math.floor(Math.random() * 200_000));
      if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r));
      off += n;
    }
    expect(await received).toBe(sent);
    s.destroy();
  });

  it('keeps the order of many small writes', async () => {
    const s = await open(proxyPort);
    const count = 5000;
    const expected = Array.from({ length: count }, (_, i) => `${i};`).join('');
    const got = new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.length >= expected.length) resolve(text);
      });
    });
    for (let i = 0; i < count; i++) s.write(`${i};`);
    expect(await got).toBe(expected);
    s.destroy();
  });

  it('gives each TCP connection its own stream, all recorded in the stream log', async () => {
    const sockets = await Promise.all([open(proxyPort), open(proxyPort), open(proxyPort)]);
    const echoes = sockets.map((s, i) => new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString()))).then((t) => [i, t]));
    sockets.forEach((s, i) => s.write(`conn-${i}`));
    for (const [i, t] of await Promise.all(echoes)) expect(t).toBe(`conn-${i}`);
    for (const s of sockets) s.end();
    await new Promise((r) => setTimeout(r, 500));
    const { streams } = await hub.service.listStreams({ deviceId: 'tunnel-dev' });
    const accepted = streams.filter((x) => x.result === 'accepted');
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    const ended = accepted.filter((x) => x.state === 'ended');
    expect(ended.length).toBeGreaterThanOrEqual(3);
    for (const e of ended) {
      expect(e.closedBy).toMatch(/^(service|device)$/);
      expect(e.endedAt).not.toBeNull();
      expect(e.initiator).toBe('iothubowner');
    }
    const big = accepted.find((x) => x.bytesToDevice >= 16 * 1024 * 1024);
    expect(big?.bytesFromDevice).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });
});
