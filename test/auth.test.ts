/**
 * Credentials refused, with a clear typed error, and nothing changed: SAS tokens on the REST API,
 * per-stream tokens at the streaming endpoint, disabled and deleted devices, and the device
 * control channel's own refusals. One real hub process over real TLS.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { DsError } from '../shared/errors.js';
import { createSasToken, deviceResource } from '../shared/sas.js';
import { signStreamToken, type StreamClaims } from '../shared/stream-token.js';
import { startHub, stopAll, type HubHandle } from './harness.js';
import {
  acceptedStream,
  bridgeUpgrade,
  closeDevices,
  closed,
  controlUpgrade,
  deviceToken,
  echoOver,
  eventually,
  expectError,
  expectErrorBody,
  expectRefused,
  hostOf,
  initiate,
  nowSeconds,
  policyKey,
  policyToken,
  RawDevice,
  registerDevice,
  rest,
  startSdkDevice,
  tryUpgrade,
  type UpgradeResult,
} from './fixtures/bad-input-helpers.js';

let hub: HubHandle;
const keys: Record<string, string> = {};
/** Device keys by id. */
const devKeys: Record<string, string> = {};

beforeAll(async () => {
  hub = await startHub();
  const [device, registryRead, service] = await Promise.all([policyKey(hub, 'device'), policyKey(hub, 'registryRead'), policyKey(hub, 'service')]);
  Object.assign(keys, { device, registryRead, service });
  for (const id of ['auth-offline', 'auth-echo', 'auth-raw', 'auth-toggle', 'auth-deleted', 'auth-ctl']) devKeys[id] = await registerDevice(hub, id);
  await startSdkDevice(hub, 'auth-echo', devKeys['auth-echo'] as string, 'echo');
});

afterAll(async () => {
  closeDevices();
  await stopAll();
});

async function registrySnapshot(): Promise<string[]> {
  const ans = await rest(hub, 'GET', '/devices');
  expect(ans.status).toBe(200);
  return (ans.json as Array<{ deviceId: string; etag: string; status: string }>).map((d) => `${d.deviceId} ${d.etag} ${d.status}`).sort();
}

async function streamLogSize(): Promise<number> {
  const ans = await rest(hub, 'GET', '/streams?limit=1000');
  expect(ans.status).toBe(200);
  return (ans.json as { streams: unknown[] }).streams.length;
}

async function deviceState(id: string): Promise<{ status: string; connectionState: string }> {
  const ans = await rest(hub, 'GET', `/devices/${id}`);
  expect(ans.status, ans.text).toBe(200);
  return ans.json as { status: string; connectionState: string };
}

/**
 * A registry read, a registry write and a stream initiation with `auth`: all must fail with
 * `code`, and neither the registry nor the stream log may change.
 */
async function expectBothRefused(auth: string | null, code: number, message?: RegExp): Promise<void> {
  const registryBefore = await registrySnapshot();
  const logBefore = await streamLogSize();
  expectError(await rest(hub, 'GET', '/devices', { auth }), code, message);
  expectError(await rest(hub, 'PUT', '/devices/auth-intruder', { auth, body: '{"deviceId":"auth-intruder"}' }), code, message);
  const init = await initiate(hub, 'auth-offline', 'ssh', { auth, connectTimeout: '0', responseTimeout: '0' });
  expectError(init, code, message);
  expect(init.headers['iothub-streaming-is-accepted']).toBeUndefined();
  expect(await registrySnapshot()).toEqual(registryBefore);
  expect(await streamLogSize()).toBe(logBefore);
}

describe('SAS tokens on the REST API', () => {
  it('a missing Authorization header is 401001', async () => {
    await expectBothRefused(null, 401001, /Authorization/);
    await expectBothRefused('', 401001);
  });

  it('a malformed token is 401002', async () => {
    await expectBothRefused('SharedAccessSignature garbage', 401002);
    await expectBothRefused('Bearer abc.def.ghi', 401002, /SharedAccessSignature/);
    const good = policyToken(hub);
    await expectBothRefused(good.replace(/&se=\d+/, ''), 401002, /sr, sig and se/);
    await expectBothRefused(good.replace(/&se=\d+/, '&se=tomorrow'), 401002, /unix seconds/);
    await expectBothRefused(good.replace(/sig=[^&]+/, 'sig=bm90LWEtbWFj'), 401002, /sig/);
    await expectBothRefused(`${good}&se=1`, 401002, /twice/);
  });

  it('a token expired beyond the 300 s skew is 401003; within the skew it still works', async () => {
    await expectBothRefused(policyToken(hub, { expiry: nowSeconds() - 400 }), 401003, /expired/);
    const lenient = await rest(hub, 'GET', '/devices', { auth: policyToken(hub, { expiry: nowSeconds() - 100 }) });
    expect(lenient.status).toBe(200);
  });

  it('a token expiring more than a year ahead is 401003; eleven months ahead works', async () => {
    await expectBothRefused(policyToken(hub, { expiry: nowSeconds() + 366 * 24 * 3600 + 300 + 3600 }), 401003, /year/);
    const ok = await rest(hub, 'GET', '/devices', { auth: policyToken(hub, { expiry: nowSeconds() + 330 * 24 * 3600 }) });
    expect(ok.status).toBe(200);
  });

  it('a forged signature is 401002 (wrong key, altered expiry, unknown policy)', async () => {
    await expectBothRefused(policyToken(hub, { key: randomBytes(32).toString('base64') }), 401002, /signature/);
    const good = policyToken(hub);
    const se = Number(/&se=(\d+)/.exec(good)?.[1]);
    await expectBothRefused(good.replace(`&se=${se}`, `&se=${se + 1}`), 401002, /signature/);
    await expectBothRefused(policyToken(hub, { keyName: 'nosuchpolicy' }), 401002, /signature/);
    // The device policy's key under the owner's name does not pass either.
    await expectBothRefused(policyToken(hub, { key: keys.device }), 401002, /signature/);
  });

  it('a token for another host, or a device-resource token, on a service call is 401004', async () => {
    await expectBothRefused(policyToken(hub, { resource: 'otherhub.example.com' }), 401004, /otherhub\.example\.com/);
    await expectBothRefused(policyToken(hub, { resource: 'localhost:1' }), 401004);
    const devKey = devKeys['auth-offline'] as string;
    await expectBothRefused(deviceToken(hub, 'auth-offline', devKey), 401004);
    // Even signed with the owner's key and naming the owner policy, a device resource is not the hub.
    await expectBothRefused(policyToken(hub, { resource: deviceResource(hostOf(hub), 'auth-offline') }), 401004);
    // The hub's own name but no policy: a device key cannot make service calls.
    await expectBothRefused(createSasToken({ resource: hostOf(hub), key: devKey, expiry: nowSeconds() + 600 }), 401004, /policy/);
  });

  it('accepts the host name without its port and in any case, as Azure clients sign it', async () => {
    for (const resource of ['localhost', 'LOCALHOST', hostOf(hub).toUpperCase(), `127.0.0.1:${hub.port}`]) {
      const ans = await rest(hub, 'GET', '/devices', { auth: policyToken(hub, { resource }) });
      expect(ans.status, `${resource}: ${ans.text}`).toBe(200);
    }
  });

  it('a policy lacking the right is 403001, and changes nothing', async () => {
    const registryBefore = await registrySnapshot();
    const logBefore = await streamLogSize();
    for (const policy of ['device', 'registryRead']) {
      const auth = policyToken(hub, { keyName: policy, key: keys[policy] });
      const ans = await initiate(hub, 'auth-offline', 'ssh', { auth, connectTimeout: '0', responseTimeout: '0' });
      expectError(ans, 403001, new RegExp(`"${policy}" lacks ServiceConnect`));
    }
    expect(await streamLogSize()).toBe(logBefore);
    const service = policyToken(hub, { keyName: 'service', key: keys.service });
    expectError(await rest(hub, 'GET', '/devices', { auth: service }), 403001, /RegistryRead/);
    expectError(await rest(hub, 'PUT', '/devices/auth-new', { auth: service, body: '{"deviceId":"auth-new"}' }), 403001, /RegistryWrite/);
    const registryRead = policyToken(hub, { keyName: 'registryRead', key: keys.registryRead });
    expectError(await rest(hub, 'PUT', '/devices/auth-new', { auth: registryRead, body: '{"deviceId":"auth-new"}' }), 403001, /RegistryWrite/);
    expectError(await rest(hub, 'DELETE', '/devices/auth-offline', { auth: registryRead }), 403001, /RegistryWrite/);
    expect(await registrySnapshot()).toEqual(registryBefore);
    expectError(await rest(hub, 'GET', '/devices/auth-new'), 404001);
    // The same keys do what their policies allow: the service policy gets past authentication
    // (the device is offline), and that initiation is logged under the policy's name.
    expect((await rest(hub, 'GET', '/devices', { auth: registryRead })).status).toBe(200);
    expectError(await initiate(hub, 'auth-offline', 'ssh', { auth: service, connectTimeout: '0', responseTimeout: '0' }), 404103);
    const log = await rest(hub, 'GET', '/streams?deviceId=auth-offline&limit=1');
    expect((log.json as { streams: Array<{ initiator: string; result: string }> }).streams).toMatchObject([{ initiator: 'service', result: 'deviceOffline' }]);
  });
});

/** A refusal at the streaming endpoint: HTTP 401 with a 401xxx body, no WebSocket. */
function expectUnauthorizedUpgrade(result: UpgradeResult, code?: number): void {
  if (result.kind === 'open') {
    result.ws.terminate();
    throw new Error('the streaming endpoint accepted a token it should have refused');
  }
  expect(result.status, JSON.stringify(result.body)).toBe(401);
  const body = expectErrorBody(result.status, result.body, (result.body as { errorCode: number }).errorCode);
  expect(String(body.errorCode)).toMatch(/^401\d{3}$/);
  if (code !== undefined) expect(body.errorCode).toBe(code);
}

function decodeClaims(token: string): StreamClaims {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as StreamClaims;
}

/** The token with its claims changed but the original signature kept. */
function tamper(token: string, change: Partial<StreamClaims>): string {
  const [h, , s] = token.split('.') as [string, string, string];
  const payload = Buffer.from(JSON.stringify({ ...decodeClaims(token), ...change })).toString('base64url');
  return `${h}.${payload}.${s}`;
}

async function openEcho(): Promise<{ streamId: string; url: string; token: string }> {
  return acceptedStream(await initiate(hub, 'auth-echo', 'echo'));
}

async function openedSocket(url: string, token: string): Promise<WebSocket> {
  const r = await bridgeUpgrade(hub, url, token);
  if (r.kind !== 'open') throw new Error(`bridge refused a valid token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.ws;
}

describe('stream tokens at the streaming endpoint', () => {
  it('both tokens name their stream and side', async () => {
    const s = await openEcho();
    const claims = decodeClaims(s.token);
    expect(claims).toMatchObject({ sid: s.streamId, side: 'service', dev: 'auth-echo' });
    const ws = await openedSocket(s.url, s.token);
    expect((await echoOver(ws, Buffer.from('hello'))).toString()).toBe('hello');
    ws.close(1000);
  });

  it('a token replayed while its stream is open is refused at upgrade with 401', async () => {
    const s = await openEcho();
    const ws = await openedSocket(s.url, s.token);
    expectUnauthorizedUpgrade(await bridgeUpgrade(hub, s.url, s.token));
    // The live stream is untouched by the refused replay.
    expect((await echoOver(ws, Buffer.from('still here'))).toString()).toBe('still here');
    ws.close(1000);
  });

  it('a token replayed after its stream ended is refused at upgrade with 401', async () => {
    const s = await openEcho();
    const ws = await openedSocket(s.url, s.token);
    const end = closed(ws);
    ws.close(1000);
    await end;
    await eventually(async () => {
      const st = await rest(hub, 'GET', `/streams/${s.streamId}`);
      return (st.json as { state: string }).state === 'ended' ? true : undefined;
    }, 'the stream to be logged as ended');
    expectUnauthorizedUpgrade(await bridgeUpgrade(hub, s.url, s.token));
  });

  it("a service token presented on another stream's URL is refused with 401004, and still works on its own", async () => {
    const a = await openEcho();
    const b = await openEcho();
    expectRefused(await bridgeUpgrade(hub, b.url, a.token), 401004, /another stream/);
    expectRefused(await bridgeUpgrade(hub, a.url, b.token), 401004, /another stream/);
    for (const s of [a, b]) {
      const ws = await openedSocket(s.url, s.token);
      expect((await echoOver(ws, Buffer.from(s.streamId))).toString()).toBe(s.streamId);
      ws.close(1000);
    }
  });

  it('an expired token is refused with 401003; a forged one with 401002; a missing one with 401001', async () => {
    const s = await openEcho();
    const secret = await hub.streamTokenSecret();
    const expired = signStreamToken(secret, { sid: s.streamId, side: 'service', dev: 'auth-echo', exp: nowSeconds() - 5 });
    expectRefused(await bridgeUpgrade(hub, s.url, expired), 401003, /expired/);
    const forged = signStreamToken(randomBytes(32), { sid: s.streamId, side: 'service', dev: 'auth-echo', exp: nowSeconds() + 60 });
    expectRefused(await bridgeUpgrade(hub, s.url, forged), 401002, /signature/);
    expectRefused(await bridgeUpgrade(hub, s.url, tamper(s.token, { exp: nowSeconds() + 3600 })), 401002, /signature/);
    expectRefused(await bridgeUpgrade(hub, s.url, tamper(s.token, { side: 'device' })), 401002, /signature/);
    expectRefused(await bridgeUpgrade(hub, s.url, 'not-a-jwt'), 401002, /JWT/);
    expectRefused(await bridgeUpgrade(hub, s.url, ''), 401001);
    expectRefused(await tryUpgrade(s.url, {}, hub.ca), 401001, /Bearer/);
    // None of that spent the real token: it still opens the stream.
    const ws = await openedSocket(s.url, s.token);
    expect((await echoOver(ws, Buffer.from('intact'))).toString()).toBe('intact');
    ws.close(1000);
  });

  it('the device token only opens the device side of its own stream', async () => {
    const dev = await RawDevice.connect(hub, 'auth-raw', devKeys['auth-raw'] as string);
    try {
      const pending = initiate(hub, 'auth-raw', 'raw');
      const req = await dev.nextRequest();
      expect(decodeClaims(req.authToken)).toMatchObject({ sid: req.requestId, side: 'device', dev: 'auth-raw' });
      dev.respond(req.requestId, true);
      const s = acceptedStream(await pending);
      expect(s.streamId).toBe(req.requestId);
      const other = await openEcho();
      // Useless for another stream, and its side cannot be rewritten.
      expectRefused(await bridgeUpgrade(hub, other.url, req.authToken), 401004, /another stream/);
      expectRefused(await bridgeUpgrade(hub, req.url, tamper(req.authToken, { side: 'service' })), 401002, /signature/);
      const deviceSide = await openedSocket(req.url, req.authToken);
      // Once the device side is connected, its token cannot connect a second device side.
      expectUnauthorizedUpgrade(await bridgeUpgrade(hub, req.url, req.authToken));
      const serviceSide = await openedSocket(s.url, s.token);
      const toDevice = new Promise<string>((resolve) => deviceSide.once('message', (d) => resolve((d as Buffer).toString())));
      serviceSide.send(Buffer.from('ping'), { binary: true });
      expect(await toDevice).toBe('ping');
      const toService = new Promise<string>((resolve) => serviceSide.once('message', (d) => resolve((d as Buffer).toString())));
      deviceSide.send(Buffer.from('pong'), { binary: true });
      expect(await toService).toBe('pong');
      serviceSide.close(1000);
      deviceSide.close(1000);
    } finally {
      dev.close();
    }
  });
});

describe('disabled and deleted devices', () => {
  it('disabling closes the live control channel (4004), refuses new ones (403002) and streams; enabling lets it back', async () => {
    const id = 'auth-toggle';
    const key = devKeys[id] as string;
    const { client } = await startSdkDevice(hub, id, key, 'echo');
    const disconnected = new Promise<number>((resolve) => client.once('disconnected', (code: number) => resolve(code)));
    const refusedCodes: number[] = [];
    client.on('connectError', (err: Error) => refusedCodes.push(err instanceof DsError ? err.code : 0));
    // On a cluster the store learns of the connection just after the device's welcome.
    await eventually(async () => ((await deviceState(id)).connectionState === 'Connected' ? true : undefined), 'the store to show the device connected');

    const updated = await hub.service.updateDevice(id, { status: 'disabled' });
    expect(updated.status).toBe('disabled');
    expect(await disconnected).toBe(4004);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, id, key)), 403002, /disabled/);
    await eventually(() => (refusedCodes.length > 0 ? true : undefined), 'the SDK to be refused on reconnect');
    expect(new Set(refusedCodes)).toEqual(new Set([403002]));
    expect(await deviceState(id)).toMatchObject({ status: 'disabled', connectionState: 'Disconnected' });
    expectError(await initiate(hub, id, 'echo', { connectTimeout: '0', responseTimeout: '1' }), 403002, /disabled/);

    await hub.service.updateDevice(id, { status: 'enabled' });
    await eventually(() => (client.connected ? true : undefined), 'the SDK to reconnect once enabled');
    expect(await deviceState(id)).toMatchObject({ status: 'enabled', connectionState: 'Connected' });
    const s = acceptedStream(await initiate(hub, id, 'echo', { connectTimeout: '5', responseTimeout: '5' }));
    const ws = await openedSocket(s.url, s.token);
    expect((await echoOver(ws, Buffer.from('back again'))).toString()).toBe('back again');
    ws.close(1000);
    client.close();
  });

  it('deleting closes the live control channel and refuses its key with 401; a re-created device needs its new key', async () => {
    const id = 'auth-deleted';
    const oldKey = devKeys[id] as string;
    const { client } = await startSdkDevice(hub, id, oldKey, 'echo');
    const disconnected = new Promise<number>((resolve) => client.once('disconnected', (code: number) => resolve(code)));
    const refusedCodes: number[] = [];
    client.on('connectError', (err: Error) => refusedCodes.push(err instanceof DsError ? err.code : 0));

    await hub.service.deleteDevice(id);
    expect(await disconnected).toBe(4004);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, id, oldKey)), 401002);
    await eventually(() => (refusedCodes.length > 0 ? true : undefined), 'the SDK to be refused on reconnect');
    expect(new Set(refusedCodes)).toEqual(new Set([401002]));
    expectError(await rest(hub, 'GET', `/devices/${id}`), 404001);
    expectError(await initiate(hub, id, 'echo', { connectTimeout: '0', responseTimeout: '1' }), 404001);
    client.close();

    const newKey = await registerDevice(hub, id);
    expect(newKey).not.toBe(oldKey);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, id, oldKey)), 401002);
    const ok = await controlUpgrade(hub, id, deviceToken(hub, id, newKey));
    expect(ok.kind).toBe('open');
    if (ok.kind === 'open') ok.ws.close(1000);
  });
});

describe('the device control channel', () => {
  it('refuses a browser-like upgrade carrying an Origin header with 403001', async () => {
    const id = 'auth-ctl';
    const token = deviceToken(hub, id, devKeys[id] as string);
    expectRefused(await controlUpgrade(hub, id, token, { origin: 'https://evil.example' }), 403001, /Origin/);
    await eventually(async () => ((await deviceState(id)).connectionState === 'Disconnected' ? true : undefined), 'the device to show as disconnected');
    // The same request without Origin is let in.
    const ok = await controlUpgrade(hub, id, token);
    expect(ok.kind).toBe('open');
    if (ok.kind === 'open') {
      const end = closed(ok.ws);
      ok.ws.close(1000);
      await end;
    }
  });

  it('refuses a missing token (401001), another device\'s token (401004) and a wrong key (401002)', async () => {
    const id = 'auth-ctl';
    expectRefused(await controlUpgrade(hub, id, undefined), 401001);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, 'auth-offline', devKeys['auth-offline'] as string)), 401004, /auth-offline/);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, id, randomBytes(32).toString('base64'))), 401002);
    expectRefused(await controlUpgrade(hub, id, deviceToken(hub, id, devKeys[id] as string, nowSeconds() - 400)), 401003);
    await eventually(async () => ((await deviceState(id)).connectionState === 'Disconnected' ? true : undefined), 'the device to show as disconnected');
  });

  it('closes the channel with 4005 on a control message that is not valid JSON (or not a device message)', async () => {
    const id = 'auth-ctl';
    const token = (): string => deviceToken(hub, id, devKeys[id] as string);
    const bad: Array<string | Buffer> = [
      'this is {not JSON',
      Buffer.from('{"type":"hello"}'),
      '{"type":"hello","protocol":"one","agent":"x"}',
      '{"type":"launchMissiles"}',
      JSON.stringify({ type: 'welcome', protocol: 1, deviceId: id, heartbeatIntervalMs: 1000 }),
    ];
    for (const message of bad) {
      const r = await controlUpgrade(hub, id, token());
      if (r.kind !== 'open') throw new Error(`control channel refused: ${r.status}`);
      await eventually(async () => ((await deviceState(id)).connectionState === 'Connected' ? true : undefined), 'the device to show as connected');
      const end = closed(r.ws);
      r.ws.send(message, { binary: Buffer.isBuffer(message) });
      const { code, reason } = await end;
      expect(code, String(message)).toBe(4005);
      expect(reason.length).toBeGreaterThan(0);
      await eventually(async () => ((await deviceState(id)).connectionState === 'Disconnected' ? true : undefined), 'the device to show as disconnected');
    }
    // A well-behaved connection afterwards is fine.
    const dev = await RawDevice.connect(hub, id, devKeys[id] as string);
    // On a cluster the store learns of the connection just after the device's welcome.
    await eventually(async () => ((await deviceState(id)).connectionState === 'Connected' ? true : undefined), 'the store to show the device connected');
    dev.close();
  });
});
