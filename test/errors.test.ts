/**
 * Bad input gets a clear, typed error and changes nothing: unknown stream names at the agent,
 * offline, silent and unknown devices, malformed registry bodies and timeout headers, and
 * oversized frames at the streaming endpoint. One real hub process, a real agent process and
 * in-process SDK devices, over real TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { StreamRejectedError } from '../server/sdk/service-client.js';
import { startAgent, startEchoServer, startHub, stopAll, type HubHandle, type Proc } from './harness.js';
import {
  acceptedStream,
  bridgeUpgrade,
  closeDevices,
  closed,
  echoOver,
  eventually,
  expectError,
  initiate,
  registerDevice,
  rest,
  startSdkDevice,
  type HeldStream,
} from './fixtures/bad-input-helpers.js';

interface LogEntry {
  streamId: string;
  deviceId: string;
  streamName: string;
  state: string;
  result: string | null;
  reason: string | null;
  closedBy: string | null;
  closeCode: number | null;
  endedAt: string | null;
  bytesToDevice: number;
  bytesFromDevice: number;
}

/**
 * Added to a timeout the hub promises before the test calls it missed: the hub's timers fire late
 * when the two shared cores are busy (other test runs), and the answer comes back over TLS. A
 * timeout missed by a second or more still fails.
 */
const MARGIN_S = 1.5;
/**
 * Node's timers may fire a millisecond early against another process's clock; the hub cannot
 * answer sooner than its timeout otherwise.
 */
const EARLY_S = 0.02;

let hub: HubHandle;
let agent: Proc;
const devKeys: Record<string, string> = {};

beforeAll(async () => {
  hub = await startHub();
  const echo = await startEchoServer();
  agent = await startAgent(hub, 'err-agent', [`echo=127.0.0.1:${echo.port}`, `web=127.0.0.1:${echo.port}`]);
  for (const id of ['err-offline', 'err-silent', 'err-hold', 'err-registry']) devKeys[id] = await registerDevice(hub, id);
});

afterAll(async () => {
  closeDevices();
  await stopAll();
});

async function streamLog(query: string): Promise<LogEntry[]> {
  const ans = await rest(hub, 'GET', `/streams?${query}`);
  expect(ans.status, ans.text).toBe(200);
  return (ans.json as { streams: LogEntry[] }).streams;
}

async function logEntry(streamId: string): Promise<LogEntry> {
  const ans = await rest(hub, 'GET', `/streams/${streamId}`);
  expect(ans.status, ans.text).toBe(200);
  return ans.json as LogEntry;
}

async function openBridge(url: string, token: string): Promise<WebSocket> {
  const r = await bridgeUpgrade(hub, url, token);
  if (r.kind !== 'open') throw new Error(`bridge refused: ${r.status} ${JSON.stringify(r.body)}`);
  return r.ws;
}

describe('unknown stream names at the agent', () => {
  it('are answered 200 with iothub-streaming-is-accepted: False and a reason naming only the refused name', async () => {
    const ans = await initiate(hub, 'err-agent', 'telnet', { connectTimeout: '5', responseTimeout: '10' });
    expect(ans.status, ans.text).toBe(200);
    expect(ans.headers['iothub-streaming-is-accepted']).toBe('False');
    expect(ans.headers['iothub-streaming-url']).toBeUndefined();
    expect(ans.headers['iothub-streaming-auth-token']).toBeUndefined();
    const body = ans.json as { streamId: string; isAccepted: boolean; reason: string };
    expect(body.isAccepted).toBe(false);
    // Which services the device maps is not the initiator's business.
    expect(body.reason).toBe('this device has no mapping for stream "telnet"');
    expect(body.streamId).toBe(ans.headers['x-devicestreams-stream-id']);

    const entry = await logEntry(body.streamId);
    expect(entry).toMatchObject({ deviceId: 'err-agent', streamName: 'telnet', state: 'ended', result: 'rejected', closedBy: 'hub' });
    expect(entry.reason).toBe(body.reason);
    const rejected = await streamLog('deviceId=err-agent&result=rejected');
    expect(rejected.map((s) => s.streamId)).toContain(body.streamId);
    await agent.waitFor(new RegExp(`stream ${body.streamId}: rejected "telnet" \\(no mapping\\)`));
  });

  it('are a StreamRejectedError in the service SDK, and the agent still serves its mappings', async () => {
    const err = await hub.service.initiateStream('err-agent', 'nosuch', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamRejectedError);
    expect((err as StreamRejectedError).reason).toBe('this device has no mapping for stream "nosuch"');
    const s = acceptedStream(await initiate(hub, 'err-agent', 'echo', { connectTimeout: '5', responseTimeout: '10' }));
    const ws = await openBridge(s.url, s.token);
    expect((await echoOver(ws, Buffer.from('mapped'))).toString()).toBe('mapped');
    const end = closed(ws);
    ws.close(1000);
    await end;
  });
});

describe('devices that are offline, silent or unknown', () => {
  it('an offline device with a 1 s connect timeout gives 404103 after 1 s (within a 1.5 s margin), logged as deviceOffline', async () => {
    const before = await streamLog('deviceId=err-offline&result=deviceOffline');
    const started = performance.now();
    const ans = await initiate(hub, 'err-offline', 'ssh', { connectTimeout: '1', responseTimeout: '1' });
    const elapsed = (performance.now() - started) / 1000;
    expectError(ans, 404103, /err-offline.*1 s/);
    expect(elapsed).toBeGreaterThanOrEqual(1 - EARLY_S);
    expect(elapsed).toBeLessThan(1 + MARGIN_S);
    const after = await streamLog('deviceId=err-offline&result=deviceOffline');
    expect(after.length).toBe(before.length + 1);
    expect(after[0]).toMatchObject({ streamName: 'ssh', state: 'ended', result: 'deviceOffline', closedBy: 'hub' });
    expect(after[0]?.reason).toMatch(/1 s/);
  });

  it('a device that never answers gives 504101 after the 1 s response timeout (within a 1.5 s margin), logged as responseTimeout', async () => {
    const { client } = await startSdkDevice(hub, 'err-silent', devKeys['err-silent'] as string, 'silent');
    expect(client.connected).toBe(true);
    const started = performance.now();
    const ans = await initiate(hub, 'err-silent', 'ssh', { connectTimeout: '1', responseTimeout: '1' });
    const elapsed = (performance.now() - started) / 1000;
    expectError(ans, 504101, /err-silent.*1 s/);
    expect(elapsed).toBeGreaterThanOrEqual(1 - EARLY_S);
    expect(elapsed).toBeLessThan(1 + MARGIN_S);
    const log = await streamLog('deviceId=err-silent');
    expect(log[0]).toMatchObject({ streamName: 'ssh', state: 'ended', result: 'responseTimeout', closedBy: 'hub' });
    // The device stays connected; it was only slow.
    const dev = await rest(hub, 'GET', '/devices/err-silent');
    expect((dev.json as { connectionState: string }).connectionState).toBe('Connected');
    client.close();
  });

  it('an unknown device gives 404001 and is not created', async () => {
    const ans = await initiate(hub, 'err-nobody', 'ssh', { connectTimeout: '1', responseTimeout: '1' });
    expectError(ans, 404001, /err-nobody/);
    expectError(await rest(hub, 'GET', '/devices/err-nobody'), 404001);
    const log = await streamLog('deviceId=err-nobody');
    expect(log[0]).toMatchObject({ state: 'ended', result: 'deviceNotFound' });
  });
});

describe('malformed REST input', () => {
  async function registry(): Promise<string[]> {
    const ans = await rest(hub, 'GET', '/devices');
    expect(ans.status).toBe(200);
    return (ans.json as Array<{ deviceId: string; etag: string; status: string; authentication: { symmetricKey: { primaryKey: string } } }>)
      .map((d) => `${d.deviceId} ${d.etag} ${d.status} ${d.authentication.symmetricKey.primaryKey}`)
      .sort();
  }

  /** Runs `attempt`, which must fail with `code` naming `field`; the registry must not change. */
  async function expectRefusedPut(path: string, body: string, code: number, field: RegExp, headers: Record<string, string> = {}): Promise<void> {
    const before = await registry();
    expectError(await rest(hub, 'PUT', path, { body, headers }), code, field);
    expect(await registry()).toEqual(before);
  }

  it("a GET of a path the hub does not serve is its JSON 404000, not the console's page, for a SAS-signed client and for one that accepts only JSON", async () => {
    // azure-iothub's Registry.getTwin reads /twins/{id}; given the console's HTML it threw.
    for (const path of ['/twins/err-x', '/configurations', '/devices/err-x/modules']) {
      expectError(await rest(hub, 'GET', path), 404000, /no route for GET/);
      expectError(await rest(hub, 'GET', path, { auth: null, headers: { accept: 'application/json' } }), 404000, /no route for GET/);
    }
    // A browser behind a proxy that adds Basic auth still gets the console's pages (or, unbuilt, its 503 page).
    const page = await rest(hub, 'GET', '/devices-page-route', { auth: 'Basic dXNlcjpwYXNz', headers: { accept: 'text/html' } });
    expect([200, 503]).toContain(page.status);
    expect(page.headers['content-type']).toMatch(/text\/(html|plain)/);
  });

  it('invalid JSON is 400001', async () => {
    await expectRefusedPut('/devices/err-x', '{"deviceId": "err-x",', 400001, /JSON/);
    await expectRefusedPut('/devices/err-registry', '{"status":', 400001, /JSON/, { 'if-match': '"*"' });
    await expectRefusedPut('/devices/err-x', '', 400001, /empty/);
    expectError(await rest(hub, 'GET', '/devices/err-x'), 404001);
  });

  it('an unknown status is 400001 naming the field "status"', async () => {
    await expectRefusedPut('/devices/err-x', '{"deviceId":"err-x","status":"sideways"}', 400001, /"status"/);
    await expectRefusedPut('/devices/err-registry', '{"status":"sideways"}', 400001, /"status"/, { 'if-match': '"*"' });
    expectError(await rest(hub, 'GET', '/devices/err-x'), 404001);
    const dev = await rest(hub, 'GET', '/devices/err-registry');
    expect((dev.json as { status: string }).status).toBe('enabled');
  });

  it('keys that are not base64 are 400001 naming authentication.symmetricKey.primaryKey (or secondaryKey)', async () => {
    const body = (primaryKey: string, secondaryKey?: string): string =>
      JSON.stringify({ deviceId: 'err-registry', authentication: { symmetricKey: { primaryKey, ...(secondaryKey === undefined ? {} : { secondaryKey }) } } });
    await expectRefusedPut('/devices/err-registry', body('not base64 at all!'), 400001, /authentication\.symmetricKey\.primaryKey/, { 'if-match': '"*"' });
    await expectRefusedPut('/devices/err-x', body('c2hvcnQ='), 400001, /authentication\.symmetricKey\.primaryKey/);
    const good = Buffer.alloc(32, 7).toString('base64');
    await expectRefusedPut('/devices/err-registry', body(good, '%%%%'), 400001, /authentication\.symmetricKey\.secondaryKey/, { 'if-match': '"*"' });
    const dev = await rest(hub, 'GET', '/devices/err-registry');
    expect((dev.json as { authentication: { symmetricKey: { primaryKey: string } } }).authentication.symmetricKey.primaryKey).toBe(devKeys['err-registry']);
  });

  it('a body whose deviceId differs from the path is 400001 naming deviceId', async () => {
    await expectRefusedPut('/devices/err-x', '{"deviceId":"err-y"}', 400001, /deviceId/);
    await expectRefusedPut('/devices/err-registry', '{"deviceId":"err-other","status":"disabled"}', 400001, /deviceId/, { 'if-match': '"*"' });
    expectError(await rest(hub, 'GET', '/devices/err-x'), 404001);
    expectError(await rest(hub, 'GET', '/devices/err-y'), 404001);
  });

  it('an invalid device id in the path is 400004', async () => {
    await expectRefusedPut(`/devices/${'d'.repeat(129)}`, '{}', 400004, /device id/);
    await expectRefusedPut('/devices/has%20space', '{}', 400004, /device id/);
  });

  it('bad timeout header values are 400004 naming the header, and log nothing', async () => {
    const { client } = await startSdkDevice(hub, 'err-hold', devKeys['err-hold'] as string, 'hold');
    const before = await streamLog('limit=1000');
    for (const value of ['abc', '-1', '61', '', '1e9', 'NaN']) {
      const connect = await initiate(hub, 'err-hold', 'ssh', { connectTimeout: value, responseTimeout: '1' });
      expectError(connect, 400004, /iothub-streaming-connect-timeout-in-seconds/);
      const response = await initiate(hub, 'err-hold', 'ssh', { connectTimeout: '1', responseTimeout: value });
      expectError(response, 400004, /iothub-streaming-response-timeout-in-seconds/);
    }
    expect((await streamLog('limit=1000')).length).toBe(before.length);
    client.close();
  });
});

describe('oversized frames at the streaming endpoint', () => {
  /** An accepted stream to the holding device, with both sides connected and 64 KiB carried. */
  async function liveStream(): Promise<{ streamId: string; service: WebSocket; deviceSide: HeldStream; close(): void }> {
    const dev = await startSdkDevice(hub, 'err-hold', devKeys['err-hold'] as string, 'hold');
    const s = acceptedStream(await initiate(hub, 'err-hold', 'bulk', { connectTimeout: '5', responseTimeout: '10' }));
    const deviceSide = await dev.nextStream();
    expect(deviceSide.streamId).toBe(s.streamId);
    const service = await openBridge(s.url, s.token);
    const received = new Promise<number>((resolve) => {
      let n = 0;
      deviceSide.stream.on('data', (d: Buffer) => {
        n += d.length;
        if (n >= 64 * 1024) resolve(n);
      });
    });
    // A frame of exactly 64 KiB is fine.
    service.send(Buffer.alloc(64 * 1024, 1), { binary: true });
    expect(await received).toBe(64 * 1024);
    return { streamId: s.streamId, service, deviceSide, close: () => dev.client.close() };
  }

  async function ended(streamId: string): Promise<LogEntry> {
    return eventually(async () => {
      const e = await logEntry(streamId);
      return e.state === 'ended' ? e : undefined;
    }, 'the stream log to record the end');
  }

  it('a 64 KiB + 1 byte frame closes the sender with 1009 and the other side at once with a 4xxx code; the log records the end', async () => {
    const live = await liveStream();
    const serviceClosed = closed(live.service);
    live.service.send(Buffer.alloc(64 * 1024 + 1, 2), { binary: true });
    expect((await serviceClosed).code).toBe(1009);
    const deviceCode = await live.deviceSide.closed;
    expect(deviceCode).toBeGreaterThanOrEqual(4000);
    expect(deviceCode).toBeLessThan(5000);
    const entry = await ended(live.streamId);
    expect(entry).toMatchObject({ state: 'ended', result: 'accepted', closedBy: 'service', bytesToDevice: 64 * 1024, bytesFromDevice: 0 });
    expect(entry.endedAt).not.toBeNull();
    live.close();
  });

  it('the stream log and the surviving side are told the frame was too big (1009), not that the connection was lost', async () => {
    const live = await liveStream();
    const serviceClosed = closed(live.service);
    live.service.send(Buffer.alloc(64 * 1024 + 1, 3), { binary: true });
    expect((await serviceClosed).code).toBe(1009);
    await live.deviceSide.closed;
    const entry = await ended(live.streamId);
    live.close();
    expect(entry.closeCode).toBe(1009);
    expect(entry.reason).toMatch(/64 KiB/);
    expect(live.deviceSide.stream.closeReason).toMatch(/64 KiB/);
  });
});
