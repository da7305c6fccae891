/**
 * Property-based: random and mutated REST bodies, headers and paths against a real hub and its
 * console give a typed 4xx answer — never a 500, never a crash — and change nothing they should not.
 */
import { request } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, stopAll, type HubHandle } from './harness.js';
import { createSasToken } from '../shared/sas.js';
import { parseServiceConnectionString } from '../shared/connection-string.js';

let hub: HubHandle;
let auth: string;

beforeAll(async () => {
  hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: 'fuzz-admin-password' });
  const cs = parseServiceConnectionString(hub.ownerCs);
  auth = createSasToken({ resource: cs.hostName, key: cs.sharedAccessKey, keyName: cs.sharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 3600 });
});

afterAll(stopAll);

function send(method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // The path goes on the wire as given (not through new URL, which would read "//x" as a host).
    const base = new URL(hub.url);
    const req = request({ hostname: base.hostname, port: base.port, path, method, headers: { authorization: auth, 'content-type': 'application/json', ...headers }, ca: hub.ca }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every error answer has the catalogue's shape and a status matching its code. */
function typed(r: { status: number; text: string }): boolean {
  if (r.status < 400) return true;
  const body = JSON.parse(r.text) as { errorCode?: number; message?: string };
  return typeof body.errorCode === 'number' && Math.floor(body.errorCode / 1000) === r.status && typeof body.message === 'string';
}

const validDevice = { deviceId: 'fuzz-dev', status: 'enabled', authentication: { symmetricKey: { primaryKey: '', secondaryKey: '' } } };

/** A valid body with one field replaced by anything. */
const mutatedDevice = fc.record({ path: fc.constantFrom('deviceId', 'status', 'statusReason', 'authentication', 'authentication.symmetricKey', 'authentication.symmetricKey.primaryKey', 'authentication.type'), value: fc.jsonValue() }).map(({ path, value }) => {
  const body = structuredClone(validDevice) as Record<string, unknown>;
  const keys = path.split('.');
  let at = body;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys.at(-1) as string] = value;
  return JSON.stringify(body);
});

describe('REST input fuzzing', () => {
  it('PUT /devices/{id}: random JSON, mutated bodies and raw bytes never give a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), mutatedDevice, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))), async (body) => {
        const r = await send('PUT', '/devices/fuzz-dev', body);
        expect(r.status).not.toBeGreaterThanOrEqual(500);
        expect(typed(r)).toBe(true);
        if (r.status === 200) expect((await send('DELETE', '/devices/fuzz-dev', undefined, { 'if-match': '*' })).status).toBe(204);
      }),
      { numRuns: 150 },
    );
  });

  it('stream initiation: random names, ids and timeout headers give typed 4xx answers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), fc.string({ maxLength: 12 }), async (id, name, timeout) => {
        const path = `/twins/${encodeURIComponent(id)}/streams/${encodeURIComponent(name)}`;
        const r = await send('POST', path, undefined, {
          'iothub-streaming-connect-timeout-in-seconds': timeout.replace(/[^\x20-\x7e]/g, '') || '0',
          'iothub-streaming-response-timeout-in-seconds': '0',
        });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(typed(r)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('random and malformed paths (bad percent-encoding included) never give a 5xx or a crash', async () => {
    for (const path of ['/%E0%A4%A', '/api/%', '/devices/%', '/twins/%/streams/x', '/streams/%zz', '/%', '/api/recordings/%/cast']) {
      const r = await send('GET', path, undefined);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      if (r.status === 503) expect(r.text, path).toMatch(/not been built/);
      else expect(r.status, path).toBeLessThan(500);
    }
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9%._~/-]{0,40}$/), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), async (tail, method) => {
        const r = await send(method, `/${tail}`, method === 'GET' || method === 'DELETE' ? undefined : '{}', { origin: new URL(hub.url).origin });
        // 503 is the console's deliberate "not built yet" page when web/dist is missing (a fresh clone).
        if (r.status === 503) expect(r.text).toMatch(/not been built/);
        else expect(r.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    expect((await send('GET', '/healthz', undefined)).status).toBe(200);
  });

  it('console login and operator bodies: random JSON gives 400/401, never a 500', async () => {
    const origin = new URL(hub.url).origin;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.record({ username: fc.jsonValue(), password: fc.jsonValue() }).map((v) => JSON.stringify(v))), async (body) => {
        const r = await send('POST', '/api/login', body, { origin });
        expect([400, 401, 429]).toContain(r.status);
        expect((JSON.parse(r.text) as { error?: { message?: unknown } }).error?.message).toEqual(expect.any(String));
      }),
      { numRuns: 100 },
    );
    expect((await send('GET', '/healthz', undefined)).status).toBe(200);
    expect((await send('GET', '/devices/fuzz-dev', undefined)).status).toBe(404);
  });
});
