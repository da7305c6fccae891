/**
 * When the device SDK says it is connected, against a real WebSocket server standing in for the
 * hub's control endpoint: only once the hub's welcome arrives (the hub sends it after recording the
 * connection in its store), not when the socket opens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTROL_PROTOCOL_VERSION, encodeControlMessage } from '../../shared/control-protocol.js';
import { createDeviceClient, type DeviceClient } from './device-client.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('emits connected (and resolves open) only once the hub welcomes it, not when the socket opens', async () => {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  const sockets: WebSocket[] = [];
  const hello = new Promise<string>((resolve) => {
    wss.on('connection', (ws) => {
      sockets.push(ws);
      ws.on('message', (d) => resolve((d as Buffer).toString('utf8')));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())), () => {
    for (const s of sockets) s.terminate();
    wss.close();
  });
  const port = (server.address() as AddressInfo).port;
  const key = Buffer.alloc(32, 1).toString('base64');
  const client: DeviceClient = createDeviceClient(`HostName=127.0.0.1;DeviceId=sdk-dev;SharedAccessKey=${key}`, { hubUrl: `ws://127.0.0.1:${port}` });
  cleanup.push(() => client.close());
  let connected = false;
  client.on('connected', () => { connected = true; });
  const opened = client.open().then(() => 'open');

  expect(JSON.parse(await hello)).toMatchObject({ type: 'hello' });
  // The socket is open and the hello sent; the hub has not answered.
  const early = await Promise.race([opened, new Promise((r) => setTimeout(() => r('waiting'), 400))]);
  expect([early, connected]).toEqual(['waiting', false]);

  sockets[0]?.send(encodeControlMessage({ type: 'welcome', protocol: CONTROL_PROTOCOL_VERSION, deviceId: 'sdk-dev', heartbeatIntervalMs: 60_000 }));
  expect(await opened).toBe('open');
  expect(connected).toBe(true);
});
