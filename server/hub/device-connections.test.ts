/**
 * A device's welcome and the store's record of its connection, over real WebSockets: the hub
 * answers hello only once what `beforeWelcome` waits for (the presence write) is done, and a store
 * that never answers delays it by the bounded wait only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CONTROL_PROTOCOL_VERSION, encodeControlMessage } from '../../shared/control-protocol.js';
import { CloseCode } from '../../shared/close-codes.js';
import { DeviceConnections } from './device-connections.js';

const open: Array<{ server: Server; conns: DeviceConnections; ws: WebSocket }> = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    o.ws.terminate();
    o.conns.close();
    await new Promise((r) => o.server.close(r));
  }
});

/** A hub's device channels (these options) behind a loopback HTTP server, and a device's open WebSocket to them. */
async function channel(o: ConstructorParameters<typeof DeviceConnections>[0], deviceId: string): Promise<{ conns: DeviceConnections; ws: WebSocket }> {
  const conns = new DeviceConnections(o);
  const server = createServer();
  server.on('upgrade', (req, socket, head) => conns.accept(req, socket, head, deviceId, Math.floor(Date.now() / 1000) + 3600));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  open.push({ server, conns, ws });
  await new Promise((r) => ws.once('open', r));
  return { conns, ws };
}

/** A device that said hello; resolves once it is sent. */
async function helloTo(beforeWelcome: (id: string) => Promise<void>): Promise<{ welcomed: Promise<number>; saidAt: number }> {
  const { ws } = await channel({ heartbeatIntervalMs: 60_000, onChange: () => undefined, beforeWelcome, log: () => undefined }, 'dev-w');
  const welcomed = new Promise<number>((resolve) => ws.on('message', (d) => {
    if (/"welcome"/.test((d as Buffer).toString('utf8'))) resolve(Date.now());
  }));
  const saidAt = Date.now();
  ws.send(encodeControlMessage({ type: 'hello', protocol: CONTROL_PROTOCOL_VERSION, agent: 'test' }));
  return { welcomed, saidAt };
}

it('sends the welcome only once the presence write it waits for is done', async () => {
  let done: () => void = () => undefined;
  let settled = false;
  const write = new Promise<void>((resolve) => { done = resolve; });
  const { welcomed } = await helloTo(() => write.then(() => { settled = true; }));
  const early = await Promise.race([welcomed.then(() => 'welcomed'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
  expect(early).toBe('waiting');
  done();
  await welcomed;
  expect(settled).toBe(true);
});

it('sends the welcome after the bounded wait when the write never settles, and after a failed write at once', async () => {
  const stuck = await helloTo(() => new Promise<void>(() => undefined));
  const at = await stuck.welcomed;
  // WELCOME_WAIT_MS is 2 s: not before it, and not long after it.
  expect(at - stuck.saidAt).toBeGreaterThanOrEqual(1900);
  expect(at - stuck.saidAt).toBeLessThan(10_000);
  const failed = await helloTo(() => Promise.reject(new Error('store down')));
  expect(await failed.welcomed).toBeGreaterThanOrEqual(failed.saidAt);
});

/** A device channel (hello said and welcomed) on a hub's DeviceConnections; `hellos` counts the store writes a hello makes. */
async function greeted(): Promise<{ conns: DeviceConnections; ws: WebSocket; hellos: () => number; closed: Promise<{ code: number; reason: string }> }> {
  let hellos = 0;
  const { conns, ws } = await channel({ heartbeatIntervalMs: 60_000, onChange: () => undefined, onHello: () => { hellos += 1; }, log: () => undefined }, 'dev-f');
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString('utf8') })));
  const welcomed = new Promise((r) => ws.once('message', r));
  ws.send(encodeControlMessage({ type: 'hello', protocol: CONTROL_PROTOCOL_VERSION, agent: 'test' }));
  await welcomed;
  return { conns, ws, hellos: () => hellos, closed };
}

it('closes a channel whose device says hello a second time (each hello is a store write and a welcome), after one store write', async () => {
  const d = await greeted();
  d.ws.send(encodeControlMessage({ type: 'hello', protocol: CONTROL_PROTOCOL_VERSION, agent: 'again' }));
  expect(await d.closed).toEqual({ code: CloseCode.ProtocolError, reason: 'hello was already sent on this channel' });
  expect(d.hellos()).toBe(1);
  expect(d.conns.isOnline('dev-f')).toBe(false);
});

it('takes one answer per stream request, a late one included, and closes a channel that answers more than it was asked', async () => {
  const d = await greeted();
  // The device answers the first request; the second times out and its answer comes late.
  d.ws.on('message', (m) => {
    const msg = JSON.parse((m as Buffer).toString('utf8')) as { type: string; requestId: string };
    if (msg.type === 'streamRequest' && msg.requestId === 'r1') d.ws.send(encodeControlMessage({ type: 'streamResponse', requestId: 'r1', accepted: true }));
  });
  const req = (requestId: string, timeoutMs: number): ReturnType<DeviceConnections['request']> =>
    d.conns.request('dev-f', { type: 'streamRequest', requestId, streamName: 's', url: 'wss://x/bridges/1', authToken: 't', expiresAt: Date.now() + 60_000 }, timeoutMs);
  expect(await req('r1', 5000)).toMatchObject({ type: 'streamResponse', requestId: 'r1', accepted: true });
  expect(await req('r2', 50)).toBe('timeout');
  d.ws.send(encodeControlMessage({ type: 'streamResponse', requestId: 'r2', accepted: true }));
  // The late answer is taken quietly: the channel is still up for the next request.
  await new Promise((r) => setTimeout(r, 200));
  expect(d.conns.isOnline('dev-f')).toBe(true);
  d.ws.send(encodeControlMessage({ type: 'streamResponse', requestId: 'r3', accepted: true }));
  expect(await d.closed).toEqual({ code: CloseCode.ProtocolError, reason: 'a stream response to no stream request' });
  expect(d.conns.isOnline('dev-f')).toBe(false);
});
