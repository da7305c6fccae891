import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { LegWatch } from './leg-watch.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  for (const c of server?.clients ?? []) c.terminate();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A client socket to a loopback server that accepts and then says nothing at all (a dead path). */
async function silentLeg(): Promise<WebSocket> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

describe('LegWatch', () => {
  it('terminates a leg on which nothing arrived for two ping intervals and a second while it was read', async () => {
    const ws = await silentLeg();
    const watch = new LegWatch();
    watch.heard();
    const t0 = Date.now();
    watch.start(ws, 200, () => true);
    await new Promise((resolve) => ws.once('close', resolve));
    // Not before 2 × 200 ms + 1 s of silence.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    watch.stop();
  });

  it('does not judge a leg it holds for a slow reader, and after holding it that long reads it on', async () => {
    const ws = await silentLeg();
    const watch = new LegWatch();
    watch.heard();
    watch.start(ws, 200, () => true);
    watch.full(ws);
    expect(ws.isPaused).toBe(true);
    let closed = false;
    ws.once('close', () => (closed = true));
    // Past the hold limit (1.4 s) the leg is read on, not terminated: the silence while it was
    // held does not count.
    const t0 = Date.now();
    while (ws.isPaused && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(ws.isPaused).toBe(false);
    expect(closed).toBe(false);
    // Reading on, a reader that falls behind again does not pause it until it has caught up.
    watch.full(ws);
    expect(ws.isPaused).toBe(false);
    watch.caughtUp();
    watch.full(ws);
    expect(ws.isPaused).toBe(true);
    watch.stop();
    ws.terminate();
  });
});
