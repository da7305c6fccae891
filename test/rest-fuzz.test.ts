/**
 * Property-based: random and mutated REST bodies, headers and paths against a real hub and its
 * console give a typed 4xx answer — never a 500, never a crash — and change nothing they should not.
 * The console API is fuzzed logged in as each role (admin, operator, viewer), so the handlers
 * behind the login are reached, not only its 401.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, stopAll, type HubHandle } from './harness.js';
import { ConsoleClient } from './console-client.js';
import { createSasToken } from '../shared/sas.js';
import { parseServiceConnectionString } from '../shared/connection-string.js';

type Role = 'admin' | 'operator' | 'viewer';
const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];
const ACCOUNTS: Record<Role, { name: string; password: string }> = {
  admin: { name: 'admin', password: 'fuzz-admin-password' },
  operator: { name: 'fuzz-operator', password: 'fuzz-operator-password' },
  viewer: { name: 'fuzz-viewer', password: 'fuzz-viewer-password' },
};
/** Accounts the admin's fuzzing may change or delete (never the three above, whose sessions it uses). */
const VICTIMS = ['fuzz-victim-0', 'fuzz-victim-1'];
/** A registered device, so /api/devices/:id also reaches a device that exists. */
const CONSOLE_DEVICE = 'fuzz-console-dev';

let hub: HubHandle;
let auth: string;
let origin: string;
const cookies = {} as Record<Role, string>;

beforeAll(async () => {
  hub = await startHub([], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: ACCOUNTS.admin.password });
  const cs = parseServiceConnectionString(hub.ownerCs);
  auth = createSasToken({ resource: cs.hostName, key: cs.sharedAccessKey, keyName: cs.sharedAccessKeyName, expiry: Math.floor(Date.now() / 1000) + 3600 });
  origin = new URL(hub.url).origin;
  // The accounts, made through the console API as admin; each role logs in once, before the login
  // fuzzing below can trip the failed-login limiter.
  const console = new ConsoleClient(hub);
  cookies.admin = await console.login(ACCOUNTS.admin.name, ACCOUNTS.admin.password);
  const made = [
    ...(['operator', 'viewer'] as const).map((role) => ({ ...ACCOUNTS[role], role })),
    ...VICTIMS.map((name) => ({ name, password: `${name}-password`, role: 'operator' as const })),
  ];
  for (const a of made) {
    const r = await console.call('POST', '/api/operators', { cookie: cookies.admin, body: a });
    expect(r.status, r.text).toBe(201);
  }
  cookies.operator = await console.login(ACCOUNTS.operator.name, ACCOUNTS.operator.password);
  cookies.viewer = await console.login(ACCOUNTS.viewer.name, ACCOUNTS.viewer.password);
  await hub.service.createDevice(CONSOLE_DEVICE);
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

/**
 * No 5xx. The one deliberate exception: the console's "not built yet" page (503), which answers a
 * GET outside /api/ that the hub does not route (those are the SPA's pages), and only while
 * web/dist/index.html is missing (a fresh clone).
 */
function expectNoServerError(method: string, path: string, r: { status: number; text: string }): void {
  const spaPage = method === 'GET' && !path.startsWith('/api/');
  if (r.status === 503 && spaPage && !existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
    expect(r.text, path).toMatch(/not been built/);
    return;
  }
  expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
}

/** A console API request as the page makes it: the session cookie, and its Origin on anything but GET. */
function sendConsole(method: string, path: string, body: Buffer | string | undefined, cookie: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const base = new URL(hub.url);
    const headers: Record<string, string> = { cookie };
    if (method !== 'GET') headers.origin = origin;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      // Node's client leaves Content-Length out for a DELETE body, and the body would read as the next request.
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request({ hostname: base.hostname, port: base.port, path, method, headers, ca: hub.ca }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // A connection dropped without an answer is a failure of the server, named by its request.
    req.on('error', (err) => reject(new Error(`${method} ${path} got no answer: ${err.message}`)));
    req.end(body);
  });
}

/** The console API's error body (shared/console-api.ts): `{ error: { code, message } }`. */
function consoleErrorBody(text: string): boolean {
  try {
    const b = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return typeof b.error?.code === 'string' && typeof b.error.message === 'string';
  } catch {
    return false;
  }
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

/** Console API routes (`:p` is a path parameter); /api/logout is left out, it would end the session. */
const CONSOLE_ROUTES = [
  '/api/me',
  '/api/devices',
  '/api/devices/:p',
  '/api/streams',
  '/api/operators',
  '/api/operators/:p',
  '/api/recordings/:p',
  '/api/recordings/:p/cast',
  '/api/settings',
  '/api/login',
  '/api/terminal',
  '/api/terminal/watch',
  '/api/devices/:p/:p',
  '/api/:p',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Path parameters no handler can take at face value: bad percent-encoding, encoded slashes, dots. */
const AWKWARD = ['%', '%zz', '%E0%A4%A', '%2F', '%00', '.', '..', '%2E%2E', '%C0%AF'];

const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(CONSOLE_DEVICE, ...VICTIMS, 'nobody', ...AWKWARD) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9%._~@-]{0,40}$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }).map(encodeURIComponent) },
);
const queryValue = fc.oneof(
  fc.constantFrom('', '0', '-1', '1e400', 'NaN', '2026-01-01T00:00:00Z', 'not-a-date', '99999999999999999999', CONSOLE_DEVICE, 'accepted', ...AWKWARD),
  fc.stringMatching(/^[A-Za-z0-9%+._~:-]{0,24}$/),
);
const query = fc
  .array(fc.tuple(fc.constantFrom('deviceId', 'result', 'operator', 'since', 'until', 'before', 'limit', 'streamId', 'x', '%'), queryValue), { maxLength: 5 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));
/** Bodies shaped like the API's own (operator, settings, login) with any field replaced, any JSON, raw bytes. */
const consoleBody = fc.oneof(
  fc
    .record(
      {
        name: fc.oneof(fc.constantFrom('fuzz-new', 'a', 'x'.repeat(65), 'bad name!'), fc.jsonValue()),
        password: fc.oneof(fc.constantFrom('long-enough-password', 'short'), fc.jsonValue()),
        role: fc.oneof(fc.constantFrom(...ROLES, 'root'), fc.jsonValue()),
        username: fc.oneof(fc.constantFrom('nobody'), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.record({ recordInput: fc.oneof(fc.boolean(), fc.jsonValue()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.json(),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
);

describe('console API fuzzing, logged in', () => {
  for (const role of ROLES) {
    it(`as ${role}: malformed path parameters, random methods, paths, queries and bodies never give a 5xx (errors carry the console's error body), and the server and the session keep answering`, async () => {
      const cookie = cookies[role];
      // Every route with a parameter, with each awkward parameter, by every method; all 5xx listed.
      const serverErrors: string[] = [];
      for (const route of CONSOLE_ROUTES.filter((r) => r.includes(':p'))) {
        for (const p of AWKWARD) {
          for (const method of METHODS) {
            const path = route.replaceAll(':p', p);
            const r = await sendConsole(method, path, method === 'GET' ? undefined : '{}', cookie);
            if (r.status >= 500) serverErrors.push(`${method} ${path} → ${r.status}`);
          }
        }
      }
      expect(serverErrors).toEqual([]);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHODS), fc.constantFrom(...CONSOLE_ROUTES), segment, segment, query, consoleBody, async (method, route, p1, p2, q, body) => {
          const path = `${route.replace(':p', p1).replace(':p', p2)}${q}`;
          const r = await sendConsole(method, path, method === 'GET' ? undefined : body, cookie);
          expectNoServerError(method, path, r);
          if (r.status >= 400) expect(consoleErrorBody(r.text), `${method} ${path}: ${r.text.slice(0, 200)}`).toBe(true);
        }),
        { numRuns: 300 },
      );
      expect((await send('GET', '/healthz', undefined)).status).toBe(200);
      const me = await sendConsole('GET', '/api/me', undefined, cookie);
      expect(me.status, me.text).toBe(200);
      expect(JSON.parse(me.text)).toEqual({ name: ACCOUNTS[role].name, role });
    });
  }
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
      expectNoServerError('GET', path, r);
    }
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9%._~/-]{0,40}$/), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), async (tail, method) => {
        const r = await send(method, `/${tail}`, method === 'GET' || method === 'DELETE' ? undefined : '{}', { origin });
        expectNoServerError(method, `/${tail}`, r);
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
