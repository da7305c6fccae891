import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { BRIDGE_HIGH_WATER_BYTES } from './limits.js';
import { ResumableStream } from './resumable-stream.js';
import { STREAM_V2_SUBPROTOCOL, encodeStreamControl } from './stream-protocol.js';
import { WebSocketDuplex } from './ws-duplex.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  for (const c of server?.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/**
 * A far side that speaks v1 and takes nothing: it stops reading at once, and once the writer is held
 * back it closes cleanly (1000) and drops the connection (as a peer that has had enough does).
 */
async function stalledPeer(): Promise<{ url: string; closeNow: () => void }> {
  let peer: WebSocket | undefined;
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => STREAM_V2_SUBPROTOCOL });
  server.on('connection', (ws) => {
    peer = ws;
    ws.send(encodeStreamControl({ type: 'peer', v2: false, hb: 60_000 }));
    ws.pause();
  });
  await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closeNow: () => {
      peer?.close(1000);
      setTimeout(() => peer?.terminate(), 50);
    },
  };
}

/** Writes far more than the leg takes; once held back the peer closes; what the write's callback said by then. */
async function writeIntoClose(d: Duplex, closeNow: () => void): Promise<{ calledBack: 'no' | 'ok' | 'error'; heldBack: boolean }> {
  d.on('error', () => undefined);
  d.resume();
  let calledBack: 'no' | 'ok' | 'error' = 'no';
  // 64 MiB in one write: far past the kernel's socket buffers of a peer that does not read.
  d.write(Buffer.alloc(64 << 20, 7), (err) => (calledBack = err == null ? 'ok' : 'error'));
  await new Promise((r) => setTimeout(r, 500));
  const heldBack = calledBack === 'no';
  closeNow();
  await new Promise<void>((resolve) => d.once('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 200));
  return { calledBack, heldBack };
}

describe('a write held back when a v1 peer closes cleanly', () => {
  it('WebSocketDuplex does not call it back as delivered (its bytes never reached the peer)', async () => {
    const { url, closeNow } = await stalledPeer();
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const r = await writeIntoClose(new WebSocketDuplex(ws), closeNow);
    expect(r.heldBack).toBe(true);
    expect(r.calledBack).not.toBe('ok');
  });

  it('ResumableStream with a v1 peer does not call it back as delivered either', async () => {
    const { url, closeNow } = await stalledPeer();
    const ws = new WebSocket(url, [STREAM_V2_SUBPROTOCOL]);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.pause();
    const s = new ResumableStream(ws, { reconnect: () => Promise.reject(new Error('no resume here')), windowMs: 10_000, bufferBytes: BRIDGE_HIGH_WATER_BYTES });
    const r = await writeIntoClose(s, closeNow);
    expect(r.heldBack).toBe(true);
    expect(r.calledBack).not.toBe('ok');
  });
});
