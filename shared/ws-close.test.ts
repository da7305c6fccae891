import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { closeWithin, utf8Prefix } from './ws-close.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A server's side of a fresh loopback WebSocket, and the code and reason its client sees at the close. */
async function pair(): Promise<{ ws: WebSocket; closed: Promise<[number, string]> }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
  const accepted = new Promise<WebSocket>((resolve) => server?.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const closed = new Promise<[number, string]>((resolve) => client.once('close', (code, reason) => resolve([code, reason.toString()])));
  return { ws: await accepted, closed };
}

describe('closeWithin', () => {
  it('sends a code no close frame may carry (1006, as a stream log records it) as 4011 instead of throwing', async () => {
    const { ws, closed } = await pair();
    expect(() => closeWithin(ws, 1006, 'the stream has ended', 2000)).not.toThrow();
    expect(await closed).toEqual([4011, 'the stream has ended']);
  });

  it('sends a reason whose UTF-8 passes 123 bytes (accents, CJK) cut at a character, instead of throwing and never closing', async () => {
    const { ws, closed } = await pair();
    const reason = `cannot write ./${'Überprüfung-'.repeat(10)}`;
    expect(() => closeWithin(ws, 4011, reason, 2000)).not.toThrow();
    const [code, said] = await closed;
    expect(code).toBe(4011);
    expect(reason.startsWith(said)).toBe(true);
    expect(Buffer.byteLength(said)).toBeLessThanOrEqual(123);
    expect(Buffer.byteLength(said)).toBeGreaterThan(115);
  });
});

describe('utf8Prefix', () => {
  it('keeps text that fits, and cuts longer text between characters within the bytes', () => {
    expect(utf8Prefix('short', 123)).toBe('short');
    expect(utf8Prefix('aé', 2)).toBe('a');
    expect(utf8Prefix('日本語', 7)).toBe('日本');
    expect(utf8Prefix('🙂x', 3)).toBe('');
  });
});
