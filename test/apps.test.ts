/**
 * Device apps in the browser, end to end with real processes: a hub over TLS (its local certificate
 * covering *.apps.localhost), a real agent mapping `http` to a real HTTP + WebSocket server, and
 * the console API handing an operator over to the app's own origin.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoWeb, type DemoWeb } from '../scripts/demo-web.js';
import { AppTokens } from '../server/apps/app-tokens.js';
import { ensureLocalTls } from '../server/tls.js';
import { ROOT, rssOf, sleep, startAgent, stopAll, tempDir, type HubHandle } from './harness.js';
import { startConsoleHub, type ConsoleClient } from './console-client.js';
import { AppClient, cookieOf } from './fixtures/app-client.js';

const BIG = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);
/** Bytes of /big the device server has handed to its socket so far. */
let bigSent = 0;
/** The paths of the requests the device web server received, in order (the last 500). */
const devicePaths: string[] = [];
let hub: HubHandle;
let client: ConsoleClient;
let web: DemoWeb;
let operator: string;
let viewer: string;
let adminCookie: string;
/** A device web server that speaks TLS itself, with a certificate of a CA the hub does not know. */
let tlsWeb: HttpsServer;

/** The demo server plus what only tests need: redirects, cookies with Domain, a 256 MiB download. */
async function startDeviceWeb(): Promise<DemoWeb> {
  let port = 0;
  const w = await startDemoWeb({
    extra: (req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      devicePaths.push(path);
      if (devicePaths.length > 500) devicePaths.shift();
      if (path === '/to-device') res.writeHead(302, { location: `http://127.0.0.1:${port}/landed?x=1` }).end();
      else if (path === '/to-elsewhere') res.writeHead(302, { location: 'https://example.com/x' }).end();
      else if (path === '/cookies') res.writeHead(200, { 'set-cookie': ['theirs=1; Domain=apps.localhost; Path=/; HttpOnly', '__Host-ds_app=forged; Path=/; Secure'] }).end('ok');
      else if (path === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG });
        let sent = 0;
        bigSent = 0;
        const more = (): void => {
          while (sent < BIG) {
            sent += CHUNK.length;
            bigSent = sent;
            if (!res.write(CHUNK)) return void res.once('drain', more);
          }
          res.end();
        };
        more();
      } else return false;
      return true;
    },
  });
  port = w.port;
  return w;
}

async function handoff(cookie: string, deviceId: string, service = 'http'): Promise<{ status: number; url: string; origin: string; text: string }> {
  const r = await client.call('POST', '/api/apps/handoff', { cookie, body: { deviceId, service } });
  const j = r.json as { url?: string; origin?: string } | undefined;
  return { status: r.status, url: j?.url ?? '', origin: j?.origin ?? '', text: r.text };
}

/** Hands `cookie`'s operator over to the app; returns the app client and its cookie (`__Host-ds_app=…`). */
async function openApp(cookie: string, deviceId: string, service = 'http'): Promise<{ app: AppClient; appCookie: string }> {
  const h = await handoff(cookie, deviceId, service);
  expect(h.status).toBe(200);
  const app = new AppClient(h.origin, hub.ca);
  const u = new URL(h.url);
  const r = await app.get(`${u.pathname}${u.search}`);
  expect(r.status).toBe(303);
  const c = cookieOf(r.headers['set-cookie'], '__Host-ds_app');
  return { app, appCookie: c?.pair ?? '' };
}

beforeAll(async () => {
  const admin = 'apps-admin-password';
  // Room for the WebSocket bound below beside the keep-alive connections other tests leave idle.
  const started = await startConsoleHub(admin, ['--max-streams-per-device', '100']);
  hub = started.hub;
  client = started.client;
  adminCookie = started.admin;
  for (const [name, role] of [['op-apps', 'operator'], ['viewer-apps', 'viewer'], ['op-two', 'operator']]) {
    const r = await client.call('POST', '/api/operators', { cookie: started.admin, body: { name, password: 'password-123', role } });
    expect(r.status).toBe(201);
  }
  operator = await client.login('op-apps', 'password-123');
  viewer = await client.login('viewer-apps', 'password-123');
  web = await startDeviceWeb();
  await startAgent(hub, 'app-device', [`http=127.0.0.1:${web.port}`]);
  await startAgent(hub, 'no-web', []);
  await hub.service.createDevice('app-offline');
  const own = await ensureLocalTls(tempDir('ds-device-tls-'), ['device.local']);
  tlsWeb = createHttpsServer({ cert: own.cert, key: own.key }, (req, res) => res.end(`over TLS for ${req.headers.host ?? ''}`));
  await new Promise<void>((resolve) => tlsWeb.listen(0, '127.0.0.1', resolve));
  await startAgent(hub, 'tls-device', [`https=127.0.0.1:${(tlsWeb.address() as AddressInfo).port}`]);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await web?.close();
  tlsWeb?.closeAllConnections();
  tlsWeb?.close();
});

describe('handoff', () => {
  it('gives an operator a link on the app origin, good once, that sets a host-only Secure HttpOnly Lax cookie', async () => {
    const h = await handoff(operator, 'app-device');
    expect(h.status).toBe(200);
    expect(h.origin).toBe(`https://app-device--http.apps.localhost:${hub.port}`);
    const app = new AppClient(h.origin, hub.ca);
    const path = `${new URL(h.url).pathname}${new URL(h.url).search}`;
    const first = await app.get(path);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const c = cookieOf(first.headers['set-cookie'], '__Host-ds_app');
    expect(c?.attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'secure', 'samesite=lax']));
    expect(c?.attributes.some((a) => a.startsWith('domain'))).toBe(false);
    expect(Number(/max-age=(\d+)/.exec(c?.attributes.join(';') ?? '')?.[1])).toBeLessThanOrEqual(8 * 3600);
    const again = await app.get(path);
    expect(again.status).toBe(401);
    expect(again.text).toMatch(/used already/);
    expect(cookieOf(again.headers['set-cookie'], '__Host-ds_app')).toBeUndefined();
  });

  it('refuses an expired token, one for another app, and a viewer', async () => {
    const tokens = new AppTokens(Buffer.from(readFileSync(join(hub.dataDir, 'secrets', 'app-handoff.key'), 'utf8').trim(), 'base64'));
    const h = await handoff(operator, 'app-device');
    const claims = tokens.verify(new URL(h.url).searchParams.get('token') ?? undefined, 'handoff');
    if (claims === undefined) throw new Error('the console\'s handoff token does not verify with the store\'s key');
    const app = new AppClient(h.origin, hub.ca);
    const expired = tokens.sign('handoff', claims, Date.now() - 1);
    expect((await app.get(`/__devicestreams/handoff?token=${expired}`)).text).toMatch(/expired/);
    // Good for app-device's http only: the same token on another app's origin is refused.
    const other = new AppClient(`https://no-web--http.apps.localhost:${hub.port}`, hub.ca);
    expect((await other.get(new URL(h.url).pathname + new URL(h.url).search)).status).toBe(401);
    // An app cookie is no handoff, and a handoff is no app cookie.
    expect((await app.get('/', { cookie: `__Host-ds_app=${new URL(h.url).searchParams.get('token') ?? ''}` })).status).toBe(401);
    const v = await handoff(viewer, 'app-device');
    expect(v.status).toBe(403);
    expect(v.text).toMatch(/operators and admins/);
  });

  it('refuses a pair that has no host label, saying why', async () => {
    const h = await handoff(operator, 'd'.repeat(60));
    expect(h.status).toBe(400);
    expect(h.text).toMatch(/63/);
  });
});

describe('isolation', () => {
  it('answers an app origin without the cookie with a page saying to open it from the console', async () => {
    const app = new AppClient(`https://app-device--http.apps.localhost:${hub.port}`, hub.ca);
    const r = await app.get('/');
    expect(r.status).toBe(401);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect(r.text).toMatch(/from the DeviceStreams console/);
    expect(web.cookiesSeen.length).toBe(0);
  });

  it('keeps the console session cookie host-only', async () => {
    const r = await client.call('POST', '/api/login', { body: { username: 'op-apps', password: 'password-123' } });
    const c = cookieOf(r.headers['set-cookie'] as string[] | undefined, '__Host-ds_session');
    expect(c?.attributes).toEqual(expect.arrayContaining(['httponly', 'secure', 'samesite=strict']));
    expect(c?.attributes.some((a) => a.startsWith('domain'))).toBe(false);
  });

  it('answers hosts under the apps domain that name no app, and bad links, with a page', async () => {
    const app = new AppClient(`https://app-device--http.apps.localhost:${hub.port}`, hub.ca);
    // (TLS for the app's name; the Host header names another.)
    for (const host of ['x--zzzz', 'a---b', 'a.b', 'nolabel']) {
      const r = await app.get('/', { headers: { host: `${host}.apps.localhost:${hub.port}` } });
      expect(r.status, host).toBe(404);
      expect(r.text).toMatch(/names no device app/);
    }
    for (const token of ['', 'junk', 'a.b', 'x'.repeat(5000)]) expect((await app.get(`/__devicestreams/handoff?token=${token}`)).status).toBe(401);
    expect((await client.call('GET', '/api/me', { cookie: operator })).status).toBe(200);
  });

  it('sends console paths on an app origin to the device, and never app paths on the console to the proxy', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    const api = await app.get('/api/me', { cookie: `${appCookie}; ${operator}` });
    expect(api.status).toBe(404);
    expect(api.text).toBe('not found\n');
    const consoleSide = await client.call('GET', '/__devicestreams/handoff?token=x');
    // The console answers it as one of its own pages: the SPA's index, or, before the console is
    // built (a fresh clone running only the unit tests), its "not built yet" page.
    if (existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
      expect(consoleSide.status).toBe(200);
      expect(consoleSide.headers['content-type']).toMatch(/text\/html/);
    } else {
      expect(consoleSide.status).toBe(503);
      expect(consoleSide.text).toMatch(/not been built/);
    }
    expect(consoleSide.headers['set-cookie']).toBeUndefined();
    expect(devicePaths).toContain('/api/me');
    expect(devicePaths).not.toContain('/__devicestreams/handoff');
    // The console's API sends no CORS headers that would let an app origin read it.
    const me = await client.call('GET', '/api/me', { cookie: operator, origin: app.origin });
    expect(Object.keys(me.headers).filter((k) => k.startsWith('access-control-'))).toEqual([]);
  });

  it('strips the hub cookie from what the device sees and keeps the device\'s cookies host-only', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    const seen = JSON.parse((await app.get('/headers', { cookie: `theirs=1; ${appCookie}` })).text) as Record<string, string>;
    expect(seen.cookie).toBe('theirs=1');
    expect(seen.host).toBe(app.host);
    expect(seen['x-forwarded-proto']).toBe('https');
    const set = (await app.get('/cookies', { cookie: appCookie })).headers['set-cookie'] ?? [];
    expect(set).toEqual(['theirs=1; Path=/; HttpOnly']);
    // The cookie is this app's only: another device's origin does not take it.
    expect((await new AppClient(`https://no-web--http.apps.localhost:${hub.port}`, hub.ca).get('/', { cookie: appCookie })).status).toBe(401);
  });

  it('rewrites a redirect to the device\'s own address onto the app origin, and leaves others alone', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    expect((await app.get('/to-device', { cookie: appCookie })).headers.location).toBe(`${app.origin}/landed?x=1`);
    expect((await app.get('/to-elsewhere', { cookie: appCookie })).headers.location).toBe('https://example.com/x');
  });

  it('ends the app cookie with the console session', async () => {
    const own = await client.login('op-apps', 'password-123');
    const { app, appCookie } = await openApp(own, 'app-device');
    expect((await app.get('/headers', { cookie: appCookie })).status).toBe(200);
    await client.call('POST', '/api/logout', { cookie: own });
    await sleep(2200);
    const after = await app.get('/headers', { cookie: appCookie });
    expect(after.status).toBe(401);
    expect(after.text).toMatch(/session has ended/);
  });
});

describe('proxying', () => {
  it('speaks TLS to an https service without verifying the device\'s own certificate', async () => {
    const { app, appCookie } = await openApp(operator, 'tls-device', 'https');
    const r = await app.get('/', { cookie: appCookie });
    expect(r.status).toBe(200);
    expect(r.text).toBe(`over TLS for ${app.host}`);
  });

  it('ends an open app WebSocket, and the cookie, when the operator\'s role changes', async () => {
    const two = await client.login('op-two', 'password-123');
    const { app, appCookie } = await openApp(two, 'app-device');
    const ws = await app.webSocket('/ws', { cookie: appCookie });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const t0 = Date.now();
    expect((await client.call('PATCH', '/api/operators/op-two', { cookie: adminCookie, body: { role: 'viewer' } })).status).toBe(200);
    await closed;
    expect(Date.now() - t0).toBeLessThan(3000);
    await sleep(2200);
    const after = await app.get('/headers', { cookie: appCookie });
    expect(after.status).toBe(401);
    expect(after.text).toMatch(/role in the console has changed/);
  });

  it('carries a WebSocket echo, checked against the app\'s own origin', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    const ws = await app.webSocket('/ws', { cookie: appCookie });
    const echo = new Promise<string>((resolve) => ws.once('message', (d) => resolve((d as Buffer).toString())));
    ws.send('hello through the hub');
    expect(await echo).toBe('hello through the hub');
    ws.close();
    await expect(app.webSocket('/ws', { cookie: appCookie, origin: `https://localhost:${hub.port}` })).rejects.toThrow(/403/);
    await expect(app.webSocket('/ws', { origin: app.origin })).rejects.toThrow(/401/);
  });

  it('holds an app session to 16 WebSockets', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    const open = await Promise.all(Array.from({ length: 16 }, () => app.webSocket('/ws', { cookie: appCookie })));
    await expect(app.webSocket('/ws', { cookie: appCookie })).rejects.toThrow(/503/);
    const closed = open.map((ws) => new Promise((resolve) => ws.once('close', resolve)));
    for (const ws of open) ws.close();
    await Promise.all(closed);
    // Each one's stream is given back when it closes.
    const again = await (async () => {
      for (let i = 0; i < 20; i++) {
        try {
          return await app.webSocket('/ws', { cookie: appCookie });
        } catch {
          await sleep(100);
        }
      }
      throw new Error('no WebSocket after the others closed');
    })();
    again.close();
  });

  it('streams Server-Sent Events as they come', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    const res = await app.open('/events', { cookie: appCookie });
    expect(res.headers['content-type']).toBe('text/event-stream');
    let text = '';
    for await (const chunk of res) {
      text += (chunk as Buffer).toString();
      if (/data: 2\n/.test(text)) break;
    }
    res.destroy();
    expect(text).toMatch(/data: 1\n\ndata: 2\n/);
  });

  it('streams a 256 MiB download without holding it in the hub: a reader that stops holds the device back', async () => {
    const { app, appCookie } = await openApp(operator, 'app-device');
    await sleep(300);
    const before = rssOf(hub.proc.pid);
    const res = await app.open('/big', { cookie: appCookie });
    const hash = createHash('sha256');
    let size = 0;
    let paused = false;
    let inFlight = 0;
    let growth = 0;
    for await (const chunk of res) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (!paused && size >= 4 * 1024 * 1024) {
        paused = true;
        // The browser stops reading: the device must be held back, not the hub filled up. Waits
        // until the device has stopped sending for a second (at most 15 s).
        const end = Date.now() + 15_000;
        let last = -1;
        while (bigSent !== last && Date.now() < end) {
          last = bigSent;
          await sleep(1000);
        }
        inFlight = bigSent - size;
        growth = rssOf(hub.proc.pid) - before;
        console.log(`held back: ${(inFlight / 1048576).toFixed(1)} MiB in flight, hub RSS +${(growth / 1048576).toFixed(1)} MiB`);
      }
    }
    const want = createHash('sha256');
    for (let i = 0; i < BIG / CHUNK.length; i++) want.update(CHUNK);
    expect(size).toBe(BIG);
    expect(hash.digest('hex')).toBe(want.digest('hex'));
    // Buffering the body would let the device send all of it (252 MiB in flight) into the hub's
    // memory. Held back, what is in flight sits in the resume window and the kernel's socket
    // buffers of the loopback legs (21-48 MiB seen: loopback receive buffers grow to 32 MiB here),
    // and the hub's growth is what passing 4 MiB through TLS and WebSocket framing leaves in its
    // allocator (36-39 MiB seen, flat while held back).
    expect(inFlight).toBeLessThan(128 * 1024 * 1024);
    expect(growth).toBeLessThan(96 * 1024 * 1024);
  }, 120_000);

  it('says clearly when the device is offline or has no such service', async () => {
    const offline = await openApp(operator, 'app-offline');
    const t0 = Date.now();
    const r = await offline.app.get('/', { cookie: offline.appCookie });
    expect(r.status).toBe(503);
    expect(r.text).toMatch(/app-offline is not connected/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const none = await openApp(operator, 'no-web');
    const n = await none.app.get('/', { cookie: none.appCookie });
    expect(n.status).toBe(502);
    expect(n.text).toMatch(/--map http=127\.0\.0\.1:80/);
  }, 60_000);

  it('logs each app connection as a stream with the operator\'s name', async () => {
    const page = await hub.service.listStreams({ deviceId: 'app-device', limit: 200 });
    const http = page.streams.filter((s) => s.streamName === 'http');
    expect(http.length).toBeGreaterThan(0);
    // Every app connection names the operator whose app it carried: op-apps, and op-two before the role change.
    expect(new Set(http.map((s) => s.operator))).toEqual(new Set(['op-apps', 'op-two']));
  });
});
