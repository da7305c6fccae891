/**
 * End to end through real processes: hub, agent, echo server and proxy, over real TLS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamLogEntry } from '../server/sdk/service-client.js';
import { startAgent, startEchoServer, startHub, startProxy, stopAll, type HubHandle, type Proc } from './harness.js';
import { until, waitForAfter } from './fixtures/fault-helpers.js';

const DEV = 'tunnel-dev';

let hub: HubHandle;
let proxy: Proc;
let proxyPort: number;

beforeAll(async () => {
  hub = await startHub();
  const echo = await startEchoServer();
  await startAgent(hub, DEV, [`echo=127.0.0.1:${echo.port}`]);
  ({ proc: proxy, port: proxyPort } = await startProxy(hub, DEV, 'echo'));
});

afterAll(stopAll);

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * The id of the stream the proxy opened for this connection: the proxy logs
 * "PEER_ADDRESS:PEER_PORT: stream ID open to DEVICE/NAME", and the peer port is the socket's own.
 * Only what the proxy printed after output offset `from` is read (a port may be used again).
 */
async function streamIdOf(s: Socket, from: number): Promise<string> {
  const m = await waitForAfter(proxy, new RegExp(`:${s.localPort ?? '?'}: stream (\\S+) open to ${DEV}/echo`), from);
  return m[1] as string;
}

/** The log record of `streamId` once the hub has recorded its end (with the bytes carried). */
function endedRecord(streamId: string): Promise<StreamLogEntry> {
  return until(`stream ${streamId} to be ended in the log`, async () => {
    const r = await hub.service.getStream(streamId);
    return r.state === 'ended' ? r : undefined;
  }, 10_000);
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
  it("carries 16 MiB of random bytes each way intact, and its own stream's log record counts 16 MiB each way", async () => {
    const size = 16 * 1024 * 1024;
    const data = randomBytes(size);
    const sent = createHash('sha256').update(data).digest('hex');
    const from = proxy.output().length;
    const s = await open(proxyPort);
    const received = readHash(s, size);
    // Write in uneven pieces so frame boundaries never line up with writes.
    for (let off = 0; off < size; ) {
      const n = Math.min(size - off, 1000 + Math.floor(Math.random() * 200_000));
      if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r));
      off += n;
    }
    expect(await received).toBe(sent);
    const id = await streamIdOf(s, from);
    s.destroy();
    // Its own stream carried exactly those bytes each way.
    expect(await endedRecord(id)).toMatchObject({ deviceId: DEV, result: 'accepted', bytesToDevice: size, bytesFromDevice: size });
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

  it("gives each TCP connection a new stream of its own: one new id per connection in the log, each carrying exactly its connection's bytes", async () => {
    const before = new Set((await hub.service.listStreams({ deviceId: DEV, limit: 1000 })).streams.map((x) => x.streamId));
    // Three connections at once, each sending a different number of bytes, so a record can only
    // match the connection whose bytes it counts.
    const payloads = [1000, 2001, 3002].map((n, i) => Buffer.alloc(n, 0x61 + i));
    const from = proxy.output().length;
    const sockets = await Promise.all(payloads.map(() => open(proxyPort)));
    const echoes = sockets.map((s, i) => readHash(s, payloads[i]?.length ?? 0));
    sockets.forEach((s, i) => s.write(payloads[i] as Buffer));
    const hashes = await Promise.all(echoes);
    hashes.forEach((h, i) => expect(h, `echo of connection ${i}`).toBe(createHash('sha256').update(payloads[i] as Buffer).digest('hex')));
    const ids = await Promise.all(sockets.map((sock) => streamIdOf(sock, from)));
    for (const s of sockets) s.end();

    expect(new Set(ids).size, 'distinct stream ids').toBe(sockets.length);
    for (const id of ids) expect(before.has(id), `${id} is new`).toBe(false);
    const records = await Promise.all(ids.map(endedRecord));
    records.forEach((r, i) => {
      const n = payloads[i]?.length;
      expect(r, `connection ${i}'s stream`).toMatchObject({ deviceId: DEV, streamName: 'echo', result: 'accepted', state: 'ended', initiator: 'iothubowner', bytesToDevice: n, bytesFromDevice: n });
      expect(r.closedBy).toMatch(/^(service|device)$/);
      expect(r.endedAt).not.toBeNull();
    });
    // And the log gained exactly these streams, no more.
    const added = (await hub.service.listStreams({ deviceId: DEV, limit: 1000 })).streams.filter((x) => !before.has(x.streamId)).map((x) => x.streamId);
    expect(added.sort()).toEqual([...ids].sort());
  });
});
