import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ResumableStream } from './resumable-stream.js';
import { STREAM_V2_SUBPROTOCOL, encodeStreamControl } from './stream-protocol.js';
import { StreamClosedError } from './ws-duplex.js';

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
