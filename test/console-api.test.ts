/**
 * The console's BFF against a real hub process: login, roles, Origin checks, rate limiting, the
 * terminal socket end to end to a real shell server, and no secret in any answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { ConsoleCloseCode } from '../shared/console-protocol.js';
import { TERMINAL_PROTOCOL_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { ConsoleClient, session, until, type Answer } from './console-client.js';
import { startAgent, startHub, startShellServer, stopAll, type HubHandle } from './harness.js';

const ADMIN_PASSWORD = 'correct-horse-battery';
let hub: HubHandle;
let client: ConsoleClient;
let origin: string;

const call = (method: string, path: string, opts: { body?: unknown; cookie?: string; origin?: string | null } = {}): Promise<Answer> => client.call(method, path, opts);
const login = (username: string, password: string): Promise<string> => client.login(username, password);
const terminalSocket = (deviceId: string, cookie: string | undefined, wsOrigin = origin): WebSocket => client.terminalSocket(deviceId, cookie, wsOrigin);

beforeAll(async () => {
  hub = await startHub(['--terminal-connect-timeout', '1'], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  client = new ConsoleClient(hub);
  origin = client.origin;
  const secrets = client.secrets;
  secrets.push(hub.ownerCs.split('SharedAccessKey=')[1] ?? 'never');
  const shell = await startShellServer();
  await startAgent(hub, 'console-dev', [shell.map]);
  await startAgent(hub, 'no-shell-dev', []);
  await hub.service.createDevice('offline-dev');
  await hub.service.createDevice('disabled-dev', { status: 'disabled' });
  // Accounts every test may use, whatever order the tests run in.
  const admin = await login('admin', ADMIN_PASSWORD);
  for (const [name, role] of [['olga', 'operator'], ['vic', 'viewer']]) {
    expect((await call('POST', '/api/operators', { cookie: admin, body: { name, password: `${name}-password`, role } })).status).toBe(201);
  }
  for (const id of ['console-dev', 'no-shell-dev', 'offline-dev', 'disabled-dev']) {
    const d = await hub.service.getDevice(id);
    secrets.push(d.authentication.symmetricKey.primaryKey, d.authentication.symmetricKey.secondaryKey);
  }
});

afterAll(stopAll);

describe('console login and roles', () => {
  it('logs in with a secure HttpOnly SameSite=Strict cookie and says who you are', async () => {
    const bad = await call('POST', '/api/login', { body: { username: 'admin', password: 'nope' } });
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ error: { code: 'bad_credentials' } });
    const r = await call('POST', '/api/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Secure/);
    const cookie = setCookie.split(';')[0] ?? '';
    expect((await call('GET', '/api/me', { cookie })).json).toEqual({ name: 'admin', role: 'admin' });
    expect((await call('GET', '/api/me')).status).toBe(401);
  });

  it('reads the session only from the __Host- cookie: the same token under the plain name (which a sibling host could plant) is not a session', async () => {
    const cookie = await login('admin', ADMIN_PASSWORD);
    expect(cookie).toMatch(/^__Host-ds_session=/);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);
    expect((await call('GET', '/api/me', { cookie: cookie.replace(/^__Host-/, '') })).status).toBe(401);
  });

  it('refuses state-changing calls from another origin or none', async () => {
    const cookie = await login('admin', ADMIN_PASSWORD);
    const foreign = await call('POST', '/api/operators', { cookie, origin: 'https://evil.example', body: { name: 'x1', password: 'password1', role: 'viewer' } });
    expect(foreign.status).toBe(403);
    expect(foreign.json).toMatchObject({ error: { code: 'bad_origin' } });
    const none = await call('POST', '/api/logout', { cookie, origin: null });
    expect(none.status).toBe(403);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(200);
  });

  it('rate-limits failed logins for a name with Retry-After', async () => {
    for (let i = 0; i < 5; i++) expect((await call('POST', '/api/login', { body: { username: 'ghost', password: `wrong-${i}` } })).status).toBe(401);
    const limited = await call('POST', '/api/login', { body: { username: 'ghost', password: 'wrong-again' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json).toMatchObject({ error: { code: 'rate_limited' } });
  });

  it('lets admins manage operators and nobody else', async () => {
    const admin = await login('admin', ADMIN_PASSWORD);
    expect((await call('POST', '/api/operators', { cookie: admin, body: { name: 'otto', password: 'otto-password', role: 'operator' } })).status).toBe(201);
    const dup = await call('POST', '/api/operators', { cookie: admin, body: { name: 'otto', password: 'otto-password', role: 'operator' } });
    expect(dup.status).toBe(409);
    const bad = await call('POST', '/api/operators', { cookie: admin, body: { name: 'short', password: 'x', role: 'viewer' } });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/password/);
    const viewer = await login('vic', 'vic-password');
    expect((await call('GET', '/api/operators', { cookie: viewer })).status).toBe(403);
    expect((await call('GET', '/api/devices', { cookie: viewer })).status).toBe(200);
    expect((await call('GET', '/api/streams', { cookie: viewer })).status).toBe(200);
  });

  it('lists devices with their state and no keys', async () => {
    const cookie = await login('admin', ADMIN_PASSWORD);
    const r = await call('GET', '/api/devices', { cookie });
    const devices = (r.json as { devices: Array<Record<string, unknown>> }).devices;
    const dev = devices.find((d) => d.deviceId === 'console-dev');
    expect(dev).toMatchObject({ deviceId: 'console-dev', status: 'enabled', online: true });
    expect(Object.keys(dev ?? {}).sort()).toEqual(['agent', 'connectedSince', 'deviceId', 'lastActivityTime', 'online', 'services', 'status']);
    expect(devices.find((d) => d.deviceId === 'offline-dev')).toMatchObject({ online: false, lastActivityTime: null });
    expect(r.text).not.toMatch(/SharedAccess|primaryKey|authToken/);
  });
});

describe('console terminal socket', () => {
  it('opens a shell on the device for an operator and records the operator in the history', async () => {
    const cookie = await login('olga', 'olga-password');
    const ws = terminalSocket('console-dev', cookie);
    const s = session(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, cols: 80, rows: 24, term: 'xterm-256color' }));
    ws.send(encodeFrame({ type: 'data', data: new TextEncoder().encode('echo console-$((40+2))\n') }));
    await until(() => /console-42/.test(s.output()));
    expect(s.statuses.map((t) => (JSON.parse(t) as { phase?: string }).phase)).toEqual(expect.arrayContaining(['requesting', 'accepted', 'connected']));
    ws.send(JSON.stringify({ type: 'ping', t: 123 }));
    await until(() => s.statuses.some((t) => t.includes('"pong"')));
    ws.send(encodeFrame({ type: 'data', data: new TextEncoder().encode('exit 3\n') }));
    const closed = await s.closed;
    expect(s.output()).toContain('[exit 3]');
    expect(closed.code).toBe(1000);
    await new Promise((r) => setTimeout(r, 300));
    const hist = await call('GET', '/api/streams?deviceId=console-dev&operator=olga', { cookie });
    const rows = (hist.json as { streams: Array<{ operator: string; streamName: string; result: string }> }).streams;
    expect(rows[0]).toMatchObject({ operator: 'olga', streamName: 'shell', result: 'accepted' });
  });

  it('tells the operator when the device rejects, is offline, disabled or unknown, once and with a hint to fix it', async () => {
    const cookie = await login('olga', 'olga-password');
    for (const [device, code, text, hint] of [
      ['no-shell-dev', ConsoleCloseCode.Rejected, /^Device no-shell-dev rejected the terminal: this device has no mapping for stream "shell"\.$/, /--map shell=unix:/],
      ['offline-dev', ConsoleCloseCode.Offline, /^Device offline-dev is offline: its agent is not connected/, /agent/],
      ['disabled-dev', ConsoleCloseCode.Disabled, /^Device disabled-dev is disabled/, /devicestreams device enable disabled-dev/],
      ['nobody', ConsoleCloseCode.NotFound, /no device/i, /Devices page/],
    ] as const) {
      const s = session(terminalSocket(device, cookie));
      const closed = await s.closed;
      expect(closed.code).toBe(code);
      const err = s.statuses.map((t) => JSON.parse(t) as { type: string; message?: string; hint?: string }).find((m) => m.type === 'error');
      expect(err?.message).toMatch(text);
      expect(err?.message?.match(/rejected the terminal/g)?.length ?? 0).toBeLessThanOrEqual(1);
      expect(err?.hint).toMatch(hint);
    }
  });

  it('says at once that a device is offline or disabled (from the registry), not after the connect timeout', async () => {
    // A hub of its own with a long connect timeout: waiting it out would take 20 s. The offline
    // device is still asked for (with a short grace), so the attempt is in the history.
    const slow = await startHub(['--terminal-connect-timeout', '20'], undefined, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
    await slow.service.createDevice('away');
    await slow.service.createDevice('off', { status: 'disabled' });
    const c = new ConsoleClient(slow);
    const cookie = await c.login('admin', ADMIN_PASSWORD);
    for (const [device, code] of [['away', ConsoleCloseCode.Offline], ['off', ConsoleCloseCode.Disabled]] as const) {
      const t0 = Date.now();
      const s = session(c.terminalSocket(device, cookie, c.origin));
      expect((await s.closed).code).toBe(code);
      expect(Date.now() - t0).toBeLessThan(2000);
    }
    const hist = await c.call('GET', '/api/streams?deviceId=away', { cookie });
    expect((hist.json as { streams: Array<{ result: string }> }).streams[0]).toMatchObject({ result: 'deviceOffline' });
  });

  it('refuses viewers on the server, foreign origins and missing sessions', async () => {
    const viewer = await login('vic', 'vic-password');
    const v = session(terminalSocket('console-dev', viewer));
    expect((await v.closed).code).toBe(ConsoleCloseCode.Forbidden);

    const cookie = await login('olga', 'olga-password');
    for (const [c, o, status] of [[cookie, 'https://evil.example', 403], [undefined, origin, 401]] as const) {
      const ws = terminalSocket('console-dev', c, o);
      const got = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => undefined);
      });
      expect(got).toBe(status);
    }
  });

  it('ends the terminal when the operator logs out', async () => {
    const cookie = await login('olga', 'olga-password');
    const ws = terminalSocket('console-dev', cookie);
    const s = session(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, cols: 80, rows: 24, term: 'xterm' }));
    await until(() => s.statuses.some((t) => t.includes('connected')));
    expect((await call('POST', '/api/logout', { cookie })).status).toBe(204);
    expect((await s.closed).code).toBe(ConsoleCloseCode.LoggedOut);
    expect((await call('GET', '/api/me', { cookie })).status).toBe(401);
  });
});
