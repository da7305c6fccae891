import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { closeWithin } from './ws-close.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

describe('closeWithin', () => {
  it('sends a code no close frame may carry (1006, as a stream log records it) as 4011 instead of throwing', async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
    const accepted = new Promise<WebSocket>((resolve) => server?.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const closed = new Promise<[number, string]>((resolve) => client.once('close', (code, reason) => resolve([code, reason.toString()])));
    const ws = await accepted;
    expect(() => closeWithin(ws, 1006, 'the stream has ended', 2000)).not.toThrow();
    expect(await closed).toEqual([4011, 'the stream has ended']);
  });
});
