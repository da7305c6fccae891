/**
 * The console's device API for a fleet, against a real hub process: pages with cursors, search and
 * filters done by the hub, the fleet's counts, the live change stream (created devices, devices that
 * connect, the end of the stream at logout), sessions and parameter checks, and the history's
 * keyset paging through rows created in the same millisecond.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleDevice, DeviceEventBatch, DevicePage, DeviceSummary, StreamPage } from '../shared/console-api.js';
import { ConsoleCloseCode } from '../shared/console-protocol.js';
import { startConsoleHub, until, type ConsoleClient } from './console-client.js';
import { startAgent, stopAll, type HubHandle } from './harness.js';

const ADMIN_PASSWORD = 'console-devices-pw';
/** 130 devices: more than two pages of 50, and two pages of 100. */
const FLEET = 130;
const fleetId = (i: number): string => `Dev-${String(i).padStart(3, '0')}`;
/** Every 10th device is disabled. */
const DISABLED = Array.from({ length: FLEET }, (_, i) => i).filter((i) => i % 10 === 3).map(fleetId);
const ONLINE = 'Dev-live';

let hub: HubHandle;
let c: ConsoleClient;
let admin: string;

beforeAll(async () => {
  ({ hub, client: c, admin } = await startConsoleHub(ADMIN_PASSWORD));
  for (let i = 0; i < FLEET; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, FLEET - i) }, async (_, j) => {
        const id = fleetId(i + j);
        const d = await hub.service.createDevice(id, { status: DISABLED.includes(id) ? 'disabled' : 'enabled' });
        c.secrets.push(d.authentication.symmetricKey.primaryKey, d.authentication.symmetricKey.secondaryKey);
      }),
    );
  }
  await startAgent(hub, ONLINE, []);
});

afterAll(stopAll);

async function getPage(query: string, cookie = admin): Promise<DevicePage> {
  const r = await c.call('GET', `/api/devices${query}`, { cookie });
  expect(r.status, r.text).toBe(200);
  return r.json as DevicePage;
}

/** Every device the list gives for `query`, following nextCursor; and the size of each page. */
async function pageAll(query: string): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams(query);
    if (cursor !== null) q.set('cursor', cursor);
    const p = await getPage(q.size === 0 ? '' : `?${q.toString()}`);
    ids.push(...p.devices.map((d) => d.deviceId));
    sizes.push(p.devices.length);
    cursor = p.nextCursor;
    if (sizes.length > 100) throw new Error('more than 100 pages: the cursor does not move on');
  } while (cursor !== null);
  return { ids, sizes };
}

/** Every device id in the registry, read from the hub itself. */
async function registryIds(): Promise<string[]> {
  const ids: string[] = [];
  let continuation: string | undefined;
  do {
    const p = await hub.service.listDevicePage({ continuation });
    ids.push(...p.devices.map((d) => d.deviceId));
    continuation = p.continuation;
  } while (continuation !== undefined);
  return ids;
}

describe('device list', () => {
  it('pages through the fleet with nextCursor: 50 a page by default, every device exactly once in id order, nextCursor null on the last page', async () => {
    const expected = await registryIds();
    expect(expected.length).toBeGreaterThan(FLEET);
    const { ids, sizes } = await pageAll('');
    expect(ids).toEqual(expected);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sizes.slice(0, -1).every((n) => n === 50)).toBe(true);
    expect(sizes.length).toBe(Math.ceil(expected.length / 50));
    const by100 = await pageAll('?limit=100');
    expect(by100.ids).toEqual(expected);
    expect(by100.sizes).toEqual([100, expected.length - 100]);
  });

  it('answers each device with its state and no other field (no keys)', async () => {
    const p = await getPage(`?search=${ONLINE}`);
    expect(p.devices).toHaveLength(1);
    const d = p.devices[0] as ConsoleDevice;
    expect(d).toMatchObject({ deviceId: ONLINE, status: 'enabled', online: true });
    expect(Object.keys(d).sort()).toEqual(['agent', 'connectedSince', 'deviceId', 'lastActivityTime', 'online', 'services', 'status']);
    const offline = (await getPage('?search=Dev-000')).devices[0];
    expect(offline).toMatchObject({ deviceId: 'Dev-000', online: false, lastActivityTime: null, connectedSince: null });
  });

  it('answers a device whose id is "summary" or "events" like any other (no console route takes its place)', async () => {
    for (const id of ['summary', 'events']) {
      await hub.service.createDevice(id);
      try {
        const r = await c.call('GET', `/api/devices/${id}`, { cookie: admin });
        expect(r.status).toBe(200);
        expect(r.json).toMatchObject({ deviceId: id, status: 'enabled', online: false });
      } finally {
        await hub.service.deleteDevice(id);
      }
    }
  });

  it('searches any part of the id in any case, filters by status and by online, and pages what it finds', async () => {
    expect((await pageAll('?search=dev-01')).ids).toEqual(Array.from({ length: 10 }, (_, i) => fleetId(10 + i)));
    expect((await pageAll('?search=V-12')).ids).toEqual(Array.from({ length: 10 }, (_, i) => fleetId(120 + i)));
    expect((await getPage('?search=no-such-device')).devices).toEqual([]);
    expect((await pageAll('?status=disabled')).ids).toEqual(DISABLED);
    expect((await pageAll('?online=true')).ids).toEqual([ONLINE]);
    const offline = await pageAll('?online=false&limit=7');
    expect(offline.ids).not.toContain(ONLINE);
    expect(offline.ids.length).toBe((await registryIds()).length - 1);
    expect((await pageAll('?search=dev-1&status=disabled&limit=2')).ids).toEqual(DISABLED.filter((id) => id.startsWith('Dev-1')));
    expect((await pageAll('?search=dev-1&status=enabled&online=true')).ids).toEqual([]);
  });
});

describe('device summary', () => {
  it('counts registered, enabled, disabled and online devices exactly as paging through the list finds them', async () => {
    const r = await c.call('GET', '/api/fleet/summary', { cookie: admin });
    expect(r.status).toBe(200);
    const s = r.json as DeviceSummary;
    expect(Object.keys(s).sort()).toEqual(['disabled', 'enabled', 'online', 'registered']);
    expect(s.registered).toBe((await pageAll('?limit=200')).ids.length);
    expect(s.enabled).toBe((await pageAll('?status=enabled&limit=200')).ids.length);
    expect(s.disabled).toBe((await pageAll('?status=disabled')).ids.length);
    expect(s.disabled).toBe(DISABLED.length);
    expect(s.online).toBe((await pageAll('?online=true')).ids.length);
    expect(s.online).toBe(1);
  });
});

interface EventStream {
  status: number;
  headers: IncomingMessage['headers'];
  events: Array<{ event: string; data: string }>;
  /** Every id named so far, and how many `many` batches came. */
  named(): string[];
  many(): number;
  text(): string;
  ended: Promise<void>;
  close(): void;
}

/** Opens /api/fleet/events as a browser would and parses what arrives. */
function openEvents(cookie: string | undefined): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (cookie !== undefined) headers.cookie = cookie;
    const req = request(new URL('/api/fleet/events', hub.url), { headers, ca: hub.ca, agent: false }, (res) => {
      let raw = '';
      let buffer = '';
      const events: Array<{ event: string; data: string }> = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data });
        }
      });
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      const batches = (): DeviceEventBatch[] => events.filter((e) => e.event === 'changed').map((e) => JSON.parse(e.data) as DeviceEventBatch);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        named: () => batches().flatMap((b) => ('deviceIds' in b ? b.deviceIds : [])),
        many: () => batches().filter((b) => 'many' in b).length,
        text: () => raw,
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => {
      if (!/socket hang up|aborted/.test(err.message)) reject(err);
    });
    req.end();
  });
}

/**
 * Waits until the console's follower of the hub's feed is live for this stream: registers probe
 * devices until one is announced (the follower connects to the hub just after the first page
 * subscribes, so a change made in that moment is not seen).
 */
async function waitLive(stream: EventStream): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const probe = `probe-${randomUUID().slice(0, 8)}`;
    await hub.service.createDevice(probe);
    const end = Date.now() + 1000;
    while (Date.now() < end) {
      if (stream.named().includes(probe)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`the event stream announced none of 20 probe devices; it received:\n${stream.text()}`);
}

describe('device events', () => {
  it('streams text/event-stream that names a device when it is created and again when it connects', async () => {
    await hub.service.createDevice('ev-connects');
    const stream = await openEvents(admin);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toBe('no-store');
    await waitLive(stream);
    expect(stream.named()).not.toContain('ev-connects');

    await hub.service.createDevice('ev-created');
    await until(() => stream.named().includes('ev-created'), 5000, 'ev-created announced');
    expect(stream.named()).not.toContain('ev-connects');

    const agent = await startAgent(hub, 'ev-connects', []);
    await until(() => stream.named().includes('ev-connects'), 5000, 'ev-connects announced when it connected');
    const before = stream.named().filter((id) => id === 'ev-connects').length;
    agent.kill();
    await until(() => stream.named().filter((id) => id === 'ev-connects').length > before, 5000, 'ev-connects announced when it disconnected');
    expect(stream.many()).toBe(0);
    expect(stream.text()).not.toMatch(/SharedAccess|primaryKey|HostName=/);
    stream.close();
  });

  it('gives every page of one session the same batches, and ends a session\'s streams with an "end" event at logout', async () => {
    const cookie = await c.login('admin', ADMIN_PASSWORD);
    const [a, b] = await Promise.all([openEvents(cookie), openEvents(cookie)]);
    await waitLive(a);
    await hub.service.createDevice('ev-both');
    await until(() => a.named().includes('ev-both') && b.named().includes('ev-both'), 5000, 'ev-both announced to both pages');
    expect((await c.call('POST', '/api/logout', { cookie })).status).toBe(204);
    await Promise.all([a.ended, b.ended]);
    for (const s of [a, b]) {
      const end = s.events.find((e) => e.event === 'end');
      expect(end && (JSON.parse(end.data) as { code: number }).code).toBe(ConsoleCloseCode.LoggedOut);
    }
    expect((await openEvents(cookie)).status).toBe(401);
  });

  it('lets one session hold at most 10 streams (the 11th is 429 with a sentence) and frees a place when one closes', async () => {
    const cookie = await c.login('admin', ADMIN_PASSWORD);
    const open = await Promise.all(Array.from({ length: 10 }, () => openEvents(cookie)));
    expect(open.map((s) => s.status)).toEqual(Array(10).fill(200));
    const refused = await c.call('GET', '/api/fleet/events', { cookie });
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ error: { code: 'too_many_tabs' } });
    expect(refused.headers['retry-after']).toBeDefined();
    const other = await openEvents(admin);
    expect(other.status).toBe(200);
    other.close();
    open[0]?.close();
    await until(async () => {
      const again = await openEvents(cookie);
      again.close();
      return again.status === 200;
    }, 5000, 'a place freed');
    for (const s of open) s.close();
  });
});

describe('sessions and parameters', () => {
  it('serves the list, the summary and the events to a viewer (any role)', async () => {
    expect((await c.call('POST', '/api/operators', { cookie: admin, body: { name: 'vera', password: 'vera-password', role: 'viewer' } })).status).toBe(201);
    const viewer = await c.login('vera', 'vera-password');
    expect((await getPage('?limit=1', viewer)).devices).toHaveLength(1);
    expect((await c.call('GET', '/api/fleet/summary', { cookie: viewer })).status).toBe(200);
    expect((await c.call('GET', '/api/devices/Dev-001', { cookie: viewer })).status).toBe(200);
    const stream = await openEvents(viewer);
    expect(stream.status).toBe(200);
    stream.close();
  });

  it('answers 401 to every device endpoint without a session or with an unknown one', async () => {
    for (const cookie of [undefined, '__Host-ds_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      for (const path of ['/api/devices', '/api/devices?search=dev', '/api/fleet/summary', '/api/devices/Dev-001']) {
        const r = await c.call('GET', path, cookie === undefined ? {} : { cookie });
        expect(r.status, `${path} with ${cookie ?? 'no cookie'}`).toBe(401);
        expect(r.json).toMatchObject({ error: { code: 'unauthorized' } });
      }
      const stream = await openEvents(cookie);
      expect(stream.status).toBe(401);
      await stream.ended;
      expect(stream.events).toEqual([]);
    }
  });

  it('answers 400 naming the parameter for a bad limit, status, online, search or cursor, an unknown or repeated parameter', async () => {
    const forged = Buffer.from(JSON.stringify({ after: 42 })).toString('base64url');
    const cases: Array<[string, RegExp]> = [
      ['?limit=0', /"limit"/],
      ['?limit=201', /"limit"/],
      ['?limit=abc', /"limit"/],
      ['?limit=1.5', /"limit"/],
      ['?limit=-1', /"limit"/],
      ['?status=sleeping', /"status"/],
      ['?online=yes', /"online"/],
      ['?search=has%20space', /"search"/],
      [`?search=${'a'.repeat(129)}`, /"search"/],
      ['?cursor=%21%21', /"cursor"/],
      [`?cursor=${forged}`, /"cursor"/],
      ['?sort=desc', /"sort"/],
      ['?limit=1&limit=2', /"limit"/],
    ];
    for (const [query, names] of cases) {
      const r = await c.call('GET', `/api/devices${query}`, { cookie: admin });
      expect(r.status, query).toBe(400);
      const body = r.json as { error: { code: string; message: string } };
      expect(body.error.code, query).toBe('bad_request');
      expect(body.error.message, query).toMatch(names);
    }
    expect((await c.call('GET', '/api/devices?search=&status=&online=&cursor=&limit=', { cookie: admin })).status).toBe(200);
    expect((await c.call('GET', '/api/fleet/summary?x=1', { cookie: admin })).status).toBe(400);
    expect((await c.call('GET', '/api/fleet/events?x=1', { cookie: admin })).status).toBe(400);
    expect((await c.call('GET', '/api/streams?beforeId=abc', { cookie: admin })).status).toBe(400);
    expect((await c.call('GET', '/api/streams?before=1000&beforeId=not%20an%20id', { cookie: admin })).status).toBe(400);
  });
});

describe('history paging', () => {
  it('pages rows created in the same millisecond with nextBefore and nextBeforeId: each row exactly once, newest first', async () => {
    // Seven finished streams of one device, all at one millisecond, written where the hub keeps its
    // log (the hub's own writes could not be made to land in one millisecond on purpose).
    const at = Date.now() - 60_000;
    const ids = Array.from({ length: 7 }, () => randomUUID());
    const db = new Database(join(hub.dataDir, 'hub.db'));
    try {
      db.pragma('busy_timeout = 5000');
      const insert = db.prepare(
        `INSERT INTO streams (id, device_id, stream_name, initiator, state, result, created_at, ended_at, closed_by, close_code)
         VALUES (?, 'same-ms-dev', 'shell', 'test', 'ended', 'accepted', ?, ?, 'device', 1000)`,
      );
      db.transaction(() => {
        for (const id of ids) insert.run(id, at, at + 5);
      })();
    } finally {
      db.close();
    }
    const seen: string[] = [];
    let before: number | null = null;
    let beforeId: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const q: string = before === null ? '' : `&before=${before}&beforeId=${beforeId ?? ''}`;
      const r = await c.call('GET', `/api/streams?deviceId=same-ms-dev&limit=2${q}`, { cookie: admin });
      expect(r.status, r.text).toBe(200);
      const page = r.json as StreamPage;
      seen.push(...page.streams.map((s) => s.streamId));
      if (page.nextBefore === null) {
        expect(page.nextBeforeId).toBeNull();
        break;
      }
      expect(page.nextBefore).toBe(at);
      expect(page.nextBeforeId).toBe(page.streams.at(-1)?.streamId);
      before = page.nextBefore;
      beforeId = page.nextBeforeId;
    }
    expect(seen).toEqual([...ids].sort().reverse());
  });
});
