import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ResumableStream } from './resumable-stream.js';
import { STREAM_V2_SUBPROTOCOL, encodeStreamControl } from './stream-protocol.js';
import { StreamClosedError, WebSocketDuplex } from './ws-duplex.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  for (const c of server?.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A WebSocket server on a free loopback port that accepts and then does what `onSocket` says. */
async function endpoint(onSocket: (ws: WebSocket) => void): Promise<string> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => STREAM_V2_SUBPROTOCOL });
  server.on('connection', onSocket);
  await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function open(url: string, pairingTimeoutMs: number): Promise<ResumableStream> {
  const ws = new WebSocket(url, [STREAM_V2_SUBPROTOCOL]);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.pause();
  return new ResumableStream(ws, { reconnect: () => Promise.reject(new Error('no resume here')), windowMs: 10_000, bufferBytes: 1 << 20, pairingTimeoutMs });
}

describe('ResumableStream pairing deadline', () => {
  it('ends with 4002 (handshakeTimeout) when the endpoint never says the other side is there', async () => {
    const url = await endpoint(() => undefined);
    const t0 = Date.now();
    const s = await open(url, 400);
    const err = await new Promise<unknown>((resolve) => s.once('error', resolve));
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err as StreamClosedError).closeCode).toBe(4002);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
  });

  it('keeps a stream whose other side was announced in time past that deadline', async () => {
    // Announced a little after the upgrade (a frame in the upgrade's own packet is connectWebSocket's job).
    const url = await endpoint((ws) => setTimeout(() => ws.send(encodeStreamControl({ type: 'peer', v2: true, hb: 60_000 })), 100));
    const s = await open(url, 400);
    let failed: unknown;
    s.once('error', (e) => (failed = e));
    await new Promise((r) => setTimeout(r, 900));
    expect(failed).toBeUndefined();
    expect(s.destroyed).toBe(false);
    expect(s.peerV2).toBe(true);
    s.destroy();
  });
});

describe('ResumableStream receiving for a slow local reader', () => {
  it('holds its leg at the high-water mark while the reader does not read, reads it on after a watchdog period, and delivers every byte in order', async () => {
    const total = 2 << 20;
    const sent = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) sent.writeUInt32BE(i, i);
    // The endpoint announces a v2 peer pinging every 200 ms (watchdog period 2 × 200 + 1000 ms)
    // and sends 2 MiB at once, as a sender with that much room in its window would.
    // (A little after the upgrade, as above.)
    const url = await endpoint((ws) => setTimeout(() => {
      ws.send(encodeStreamControl({ type: 'peer', v2: true, hb: 200 }));
      for (let off = 0; off < total; off += 64 * 1024) ws.send(sent.subarray(off, off + 64 * 1024), { binary: true });
    }, 100));
    const s = await open(url, 5000);
    await new Promise((r) => setTimeout(r, 700));
    expect(s.peerV2).toBe(true);
    // Nobody reads: what waits in the stream is the high-water mark and a frame, not the 2 MiB.
    expect(s.readableLength).toBeGreaterThan(0);
    expect(s.readableLength).toBeLessThanOrEqual(s.readableHighWaterMark + 64 * 1024);
    // Past the watchdog period the leg is read on (bounded by the sender's buffer): all of it here
    // (waited for at most 10 s on a busy machine; the period itself is 1.4 s).
    for (let waited = 0; s.readableLength < total && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(s.readableLength).toBe(total);
    const got: Buffer[] = [];
    for (let chunk: Buffer | null = s.read() as Buffer | null; chunk !== null; chunk = s.read() as Buffer | null) got.push(chunk);
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    s.destroy();
  });
});

describe('a stream given up while its leg still brings data', () => {
  /**
   * The endpoint announces a v2 peer and queues 4 MiB nobody reads; the local side then gives the
   * stream up. Resolves with the code of the leg's close as the local side saw it: the endpoint's
   * reply to its close (4011, echoed) if it read through what was queued, or 1006 if it held the
   * leg and cut it off when the closing handshake's time ran out.
   */
  async function closeSeen(make: (ws: WebSocket) => { destroy: (err?: Error) => void }): Promise<number> {
    const url = await endpoint((ws) => setTimeout(() => {
      ws.send(encodeStreamControl({ type: 'peer', v2: true, hb: 60_000 }));
      const chunk = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 64; i++) ws.send(chunk, { binary: true });
    }, 100));
    const ws = new WebSocket(url, [STREAM_V2_SUBPROTOCOL]);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.pause();
    const s = make(ws);
    await new Promise((r) => setTimeout(r, 500));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    s.destroy(new Error('its reader went away'));
    return closed;
  }

  it('ResumableStream reads through it and completes the closing handshake (4011 echoed, not cut off with 1006)', async () => {
    const code = await closeSeen((ws) => {
      const s = new ResumableStream(ws, { reconnect: () => Promise.reject(new Error('no resume here')), windowMs: 10_000, bufferBytes: 1 << 20 });
      s.on('error', () => undefined);
      return s;
    });
    expect(code).toBe(4011);
  });

  it('WebSocketDuplex (v1) reads through it and completes the closing handshake (4001 echoed, not cut off with 1006)', async () => {
    const code = await closeSeen((ws) => {
      const d = new WebSocketDuplex(ws);
      ws.resume();
      d.on('error', () => undefined);
      return d;
    });
    expect(code).toBe(4001);
  });
});
