import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryBatch } from '../sdk/registry-feed.js';
import { ApiFailure, sendApiError } from './api-errors.js';
import { DeviceEvents, type DeviceEventsOptions } from './device-events.js';

/** A stand-in for the hub's feed: counts how often it is followed and lets the test send batches. */
function fakeFeed(): { follow: DeviceEventsOptions['follow']; started: number; stopped: number; send(b: RegistryBatch): void } {
  let onBatch: ((b: RegistryBatch) => void) | undefined;
  const feed = {
    started: 0,
    stopped: 0,
    follow: (cb: (b: RegistryBatch) => void) => {
      feed.started += 1;
      onBatch = cb;
      return {
        close: () => {
          feed.stopped += 1;
          onBatch = undefined;
        },
      };
    },
    send: (b: RegistryBatch) => onBatch?.(b),
  };
  return feed;
}

let server: Server | undefined;
let events: DeviceEvents | undefined;

afterEach(async () => {
  events?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
  events = undefined;
});

/** Serves `events` on a loopback port; the session is the `s` query parameter. */
async function serve(e: DeviceEvents): Promise<number> {
  events = e;
  server = createServer((req, res) => {
    try {
      e.serve(req, res, { sessionKey: new URL(req.url ?? '/', 'http://x').searchParams.get('s') ?? 'one' });
    } catch (err) {
      sendApiError(res, err, () => undefined);
    }
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return (server?.address() as AddressInfo).port;
}

interface Client {
  res: IncomingMessage;
  text(): string;
  close(): void;
}

function connect(port: number, session = 'one'): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/?s=${session}` }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      resolve({ res, text: () => text, close: () => req.destroy() });
    });
    req.on('error', (err) => (/socket hang up|ECONNRESET/.test(err.message) ? undefined : reject(err)));
    req.end();
  });
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('DeviceEvents', () => {
  it('follows the hub once however many pages watch, from the first page on, and stops when the last one leaves', async () => {
    const feed = fakeFeed();
    const port = await serve(new DeviceEvents({ follow: feed.follow, log: () => undefined }));
    expect(feed.started).toBe(0);
    const a = await connect(port);
    const b = await connect(port, 'two');
    expect(a.res.statusCode).toBe(200);
    expect(a.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(feed.started).toBe(1);
    a.close();
    await until(() => events?.connections === 1, 'a gone');
    expect(feed.stopped).toBe(0);
    b.close();
    await until(() => feed.stopped === 1, 'follower stopped');
    expect(events?.following).toBe(false);
    const c = await connect(port);
    expect(feed.started).toBe(2);
    c.close();
  });

  it('writes each batch to every page as an "changed" event, after telling its own listeners', async () => {
    const feed = fakeFeed();
    const e = new DeviceEvents({ follow: feed.follow, log: () => undefined });
    const port = await serve(e);
    const order: string[] = [];
    e.onBatch(() => order.push('listener'));
    const [a, b] = await Promise.all([connect(port), connect(port, 'two')]);
    feed.send({ deviceIds: ['d1', 'd2'] });
    feed.send({ many: true });
    for (const c of [a, b]) {
      await until(() => c.text().includes('{"many":true}'), 'both batches');
      expect(c.text()).toContain('event: changed\ndata: {"deviceIds":["d1","d2"]}\n\n');
      expect(c.text()).toContain('event: changed\ndata: {"many":true}\n\n');
    }
    expect(order).toEqual(['listener', 'listener']);
  });

  it('sends a keepalive comment every keepaliveMs', async () => {
    const feed = fakeFeed();
    const port = await serve(new DeviceEvents({ follow: feed.follow, keepaliveMs: 50, log: () => undefined }));
    const a = await connect(port);
    await until(() => (a.text().match(/^: keepalive$/gm) ?? []).length >= 3, 'three keepalives', 2000);
  });

  it('cuts off a page that leaves more than maxUnsentBytes unread, and goes on writing to the others', async () => {
    const feed = fakeFeed();
    const lines: string[] = [];
    const port = await serve(new DeviceEvents({ follow: feed.follow, maxUnsentBytes: 64 * 1024, log: (l) => lines.push(l) }));
    const slow = await connect(port, 'slow');
    const fast = await connect(port, 'fast');
    slow.res.pause();
    // 500 ids of 100 characters: about 50 KB a batch; 400 of them (20 MB) overflow any socket buffer.
    const batch = { deviceIds: Array.from({ length: 500 }, (_, i) => `${'x'.repeat(96)}${String(i).padStart(4, '0')}`) };
    for (let i = 0; i < 400 && events?.connections === 2; i++) {
      feed.send(batch);
      await new Promise((r) => setImmediate(r));
    }
    expect(events?.connections).toBe(1);
    expect(lines.some((l) => /cut off/.test(l))).toBe(true);
    feed.send({ deviceIds: ['after-the-cut'] });
    await until(() => fast.text().includes('after-the-cut'), 'the other page still served');
  });

  it('refuses a page past maxPerSession (429) and past maxConnections (503) before writing anything', async () => {
    const feed = fakeFeed();
    const port = await serve(new DeviceEvents({ follow: feed.follow, maxConnections: 3, maxPerSession: 2, log: () => undefined }));
    await connect(port, 'a');
    await connect(port, 'a');
    const third = await connect(port, 'a');
    expect(third.res.statusCode).toBe(429);
    await until(() => third.text().includes('too_many_tabs'), 'the 429 body');
    await connect(port, 'b');
    const fourth = await connect(port, 'c');
    expect(fourth.res.statusCode).toBe(503);
    expect(events?.connections).toBe(3);
  });

  it('ends a connection with an "end" event that says why', async () => {
    const feed = fakeFeed();
    let end: ((code: 4108, message: string) => void) | undefined;
    events = new DeviceEvents({ follow: feed.follow, log: () => undefined });
    const e = events;
    server = createServer((req, res) => {
      const connection = e.serve(req, res, { sessionKey: 's' });
      end = (code, message) => connection.end(code, message);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const a = await connect((server.address() as AddressInfo).port);
    end?.(4108, 'You logged out.');
    await new Promise((r) => a.res.on('end', r));
    expect(a.text()).toContain('event: end\ndata: {"code":4108,"message":"You logged out."}\n\n');
    expect(e.connections).toBe(0);
    expect(feed.stopped).toBe(1);
  });

  it('is an ApiFailure the console turns into its error body when it refuses', () => {
    const e = new DeviceEvents({ follow: fakeFeed().follow, maxConnections: 0, log: () => undefined });
    expect(() => e.serve({} as IncomingMessage, {} as never, { sessionKey: 's' })).toThrow(ApiFailure);
  });
});
