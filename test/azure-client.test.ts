/**
 * Interop with Azure IoT Hub's own clients and wire shape, against a real hub process over TLS:
 *
 * - the published `azure-iothub` npm client, unchanged, runs Registry create/get/list/update/delete
 *   in a child process that trusts the hub's CA through NODE_EXTRA_CA_CERTS. The client ignores
 *   ports (it sends `host` = the connection string's HostName), so the hub listens on port 443 of a
 *   random loopback address and the connection string carries the bare address;
 * - a plain HTTPS request in Azure's documented device-streams shape (POST /twins/{id}/streams/{name}
 *   with the iothub-streaming-* headers and a SAS token signed over the bare host name) is accepted,
 *   and a `ws` client with the returned URL and token carries bytes to the device and back;
 * - GET /devicestreams answers Azure's `{ streamingEndpoints: [...] }`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { request } from 'node:https';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServiceConnectionString } from '../shared/connection-string.js';
import { createSasToken } from '../shared/sas.js';
import { ROOT, spawnProc, startAgent, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let ip: string;

/** Starts the hub on port 443 of a random 127.X.Y.Z, trying another address when one is taken. */
async function startHubOn443(): Promise<{ hub: HubHandle; ip: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const addr = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
    try {
      const h = await startHub(['--host', addr, '--port', '443', '--public-url', `https://${addr}`]);
      return { hub: h, ip: addr };
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error && /in use|EADDRINUSE/i.test(err.message))) throw err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

beforeAll(async () => {
  ({ hub, ip } = await startHubOn443());
});

afterAll(stopAll);

/** A SAS token for the hub as Azure's clients make it: signed over the bare host name. */
function serviceToken(): string {
  const cs = parseServiceConnectionString(hub.ownerCs);
  return createSasToken({
    resource: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.floor(Date.now() / 1000) + 600,
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to the hub at https://{ip} (port 443), trusting its CA. */
function hubRequest(method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port: 443, method, path, headers, ca: hub.ca, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function header(a: Answer, name: string): string | undefined {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** What the fixture prints for one Registry call. */
interface StepResult {
  failed: boolean;
  statusCode: number | null;
  value?: unknown;
  name?: string | null;
  constructorName?: string | null;
  message?: string;
  responseBody?: string | null;
}

interface DeviceJson {
  deviceId: string;
  status: string;
  statusReason?: string | null;
  etag?: string;
  connectionState?: string;
  authentication: { type?: string; symmetricKey: { primaryKey: string | null; secondaryKey: string | null } };
}

type RegistryResults = Record<'create' | 'get' | 'list' | 'update' | 'getAfterUpdate' | 'delete' | 'getAfterDelete' | 'deleteAgain', StepResult>;

// The streams part runs first: it needs a healthy hub, and the registry part ends with 404s.
describe("Azure's device-streams REST shape", () => {
  it('GET /devicestreams lists the streaming endpoint', async () => {
    const a = await hubRequest('GET', '/devicestreams?api-version=2021-04-12', { authorization: serviceToken() });
    expect(a.status, a.body).toBe(200);
    const body = JSON.parse(a.body) as { streamingEndpoints: unknown };
    expect(Array.isArray(body.streamingEndpoints)).toBe(true);
    const endpoints = body.streamingEndpoints as string[];
    expect(endpoints.length).toBeGreaterThanOrEqual(1);
    // One hub names itself (https://{ip}); a cluster names its nodes' own addresses.
    for (const e of endpoints) expect(hub.streamingBases).toContain(e);
  });

  it('initiates a stream with POST /twins/{id}/streams/{name} and carries bytes over the returned wss URL', async () => {
    const echo = await startEchoServer();
    await startAgent(hub, 'azure-stream-dev', [`echo=127.0.0.1:${echo.port}`]);

    const a = await hubRequest('POST', '/twins/azure-stream-dev/streams/echo?api-version=2021-04-12', {
      authorization: serviceToken(),
      'iothub-streaming-connect-timeout-in-seconds': '10',
      'iothub-streaming-response-timeout-in-seconds': '10',
      'content-length': '0',
    });
    expect(a.status, a.body).toBe(200);
    expect(header(a, 'iothub-streaming-is-accepted')).toBe('True');
    const url = header(a, 'iothub-streaming-url') ?? '';
    const token = header(a, 'iothub-streaming-auth-token') ?? '';
    expect(hub.streamingBases.map((b) => b.replace(/^http/, 'ws'))).toContain(url.replace(/(:443)?\/bridges\/[A-Za-z0-9-]+$/, ''));
    expect(url).toMatch(/\/bridges\/[A-Za-z0-9-]+$/);
    expect(token.length).toBeGreaterThan(20);

    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, ca: hub.ca, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`bridge refused the service side: HTTP ${res.statusCode ?? '?'}`)));
    });
    const payload = randomBytes(200_000);
    const echoed = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      ws.on('message', (data: WebSocket.RawData) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
        chunks.push(buf);
        got += buf.length;
        if (got >= payload.length) resolve(Buffer.concat(chunks));
      });
      ws.once('close', (code) => {
        if (got < payload.length) reject(new Error(`stream closed (${code}) after ${got} of ${payload.length} bytes`));
      });
    });
    // Binary frames of raw bytes, each within the endpoint's 64 KiB frame limit.
    for (let off = 0; off < payload.length; ) {
      const n = Math.min(payload.length - off, 1000 + randomInt(0, 60_000));
      ws.send(payload.subarray(off, off + n));
      off += n;
    }
    expect((await echoed).equals(payload)).toBe(true);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);

    // The stream is in the log, opened by the policy that signed the token.
    const streamId = header(a, 'x-devicestreams-stream-id') ?? '';
    let entry = await hub.service.getStream(streamId);
    for (let i = 0; i < 50 && entry.state !== 'ended'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      entry = await hub.service.getStream(streamId);
    }
    expect(entry).toMatchObject({ deviceId: 'azure-stream-dev', streamName: 'echo', result: 'accepted', state: 'ended', initiator: 'iothubowner' });
    expect(entry.bytesToDevice).toBe(payload.length);
    expect(entry.bytesFromDevice).toBe(payload.length);
  });
});

describe('the published azure-iothub client', () => {
  const deviceId = `azure-${randomBytes(4).toString('hex')}`;
  let results: RegistryResults;

  beforeAll(async () => {
    expect(hub.ownerCs).toContain(`HostName=${ip};`);
    const child = spawnProc(process.execPath, [join(ROOT, 'test', 'fixtures', 'azure-registry-client.mjs')], {
      IOTHUB_CONNECTION_STRING: hub.ownerCs,
      DEVICE_ID: deviceId,
      NODE_EXTRA_CA_CERTS: hub.caFile,
    });
    const m = await child.waitFor(/^RESULT (.*)$/m, 40_000);
    results = JSON.parse(m[1] as string) as RegistryResults;
    expect(await child.exited).toBe(0);
  });

  function ok(step: keyof RegistryResults): unknown {
    const r = results[step];
    expect(r, `${step} failed: ${JSON.stringify(r)}`).toMatchObject({ failed: false });
    return r.value;
  }

  it('creates a device with generated symmetric keys', () => {
    const created = ok('create') as DeviceJson;
    expect(created.deviceId).toBe(deviceId);
    expect(created.status).toBe('enabled');
    expect(created.authentication.symmetricKey.primaryKey).toMatch(/^[A-Za-z0-9+/]{20,}={0,2}$/);
    expect(created.authentication.symmetricKey.secondaryKey).toMatch(/^[A-Za-z0-9+/]{20,}={0,2}$/);
    expect(created.authentication.symmetricKey.secondaryKey).not.toBe(created.authentication.symmetricKey.primaryKey);
  });

  it('gets and lists the device it created', () => {
    const created = ok('create') as DeviceJson;
    const got = ok('get') as DeviceJson;
    expect(got.deviceId).toBe(deviceId);
    expect(got.status).toBe('enabled');
    expect(got.connectionState).toBe('Disconnected');
    expect(got.authentication.symmetricKey).toEqual(created.authentication.symmetricKey);
    const listed = ok('list') as DeviceJson[];
    expect(Array.isArray(listed)).toBe(true);
    const mine = listed.find((d) => d.deviceId === deviceId);
    expect(mine?.authentication.symmetricKey).toEqual(created.authentication.symmetricKey);
  });

  it('updates the device (read, modify status, write) and reads the change back', () => {
    const created = ok('create') as DeviceJson;
    const updated = ok('update') as DeviceJson;
    expect(updated.deviceId).toBe(deviceId);
    expect(updated.status).toBe('disabled');
    expect(updated.statusReason).toBe('disabled by the azure-iothub interop test');
    expect(updated.authentication.symmetricKey).toEqual(created.authentication.symmetricKey);
    const after = ok('getAfterUpdate') as DeviceJson;
    expect(after.status).toBe('disabled');
    expect(after.statusReason).toBe('disabled by the azure-iothub interop test');
    expect(after.etag).not.toBe(created.etag);
  });

  it('deletes the device; reading it afterwards fails with 404', () => {
    expect(results.delete).toMatchObject({ failed: false });
    expect(results.delete.statusCode).toBeGreaterThanOrEqual(200);
    expect(results.delete.statusCode).toBeLessThan(300);
    expect(results.getAfterDelete).toMatchObject({ failed: true, statusCode: 404 });
    expect(results.deleteAgain).toMatchObject({ failed: true, statusCode: 404 });
  });

  it('reports a deleted device as the client\'s typed DeviceNotFoundError', () => {
    // azure-iothub maps a 404 to DeviceNotFoundError only when the body carries Azure's
    // `"Message": "ErrorCode:DeviceNotFound;…"`; otherwise it is a bare Error("Not found").
    expect(results.getAfterDelete, JSON.stringify(results.getAfterDelete)).toMatchObject({ failed: true, statusCode: 404, name: 'DeviceNotFoundError' });
    expect(results.getAfterDelete.message).toMatch(/not/i);
    expect(results.getAfterDelete.responseBody).toMatch(/404001/);
  });

  it('keeps the hub running after answering those 404s', async () => {
    // A route handler that throws synchronously must become an error answer, not a crash.
    const health = await hubRequest('GET', '/healthz', {});
    expect(health.status).toBe(200);
    expect(hub.proc.child.exitCode, hub.proc.output().slice(-2000)).toBeNull();
  });
});
