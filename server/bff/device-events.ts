/**
 * Live fleet changes for the console's browsers (`GET /api/fleet/events`, Server-Sent Events).
 * This process follows the hub's change feed once, however many browsers watch: the follower
 * starts when the first browser subscribes and stops when the last one leaves, and each batch it
 * receives is serialised once and written to every browser. Every browser connection is bounded:
 * in number (per login session and in all) and in what it may leave unsent (a browser that stops
 * reading is cut off; EventSource reconnects and the page reads afresh). A connection belongs to
 * the login session that opened it and ends with it (logout, account changed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceEventBatch, DeviceEventsEnd } from '../../shared/console-api.js';
import type { ConsoleCloseCodeValue } from '../../shared/console-protocol.js';
import type { RegistryBatch, RegistryFollower } from '../sdk/registry-feed.js';
import { ApiFailure } from './api-errors.js';

export interface DeviceEventsOptions {
  /** Starts following the hub's change feed (followRegistry). Called when the first browser subscribes. */
  follow: (onBatch: (batch: RegistryBatch) => void) => RegistryFollower;
  /** Most browser connections this process serves at once. Default 1,000. */
  maxConnections?: number;
  /** Most connections one login session may hold (a person with many tabs). Default 10. */
  maxPerSession?: number;
  /**
   * Bytes a connection may leave unsent before it is cut off. Default 256 KiB: room for a few of
   * the largest batches the hub sends (500 ids of up to 128 characters, about 65 KB).
   */
  maxUnsentBytes?: number;
  /** A comment line this often keeps proxies from closing an idle stream. Default 15 s. */
  keepaliveMs?: number;
  /** Asked for when the browser should reconnect after losing the stream. Default 3 s. */
  retryMs?: number;
  log: (line: string) => void;
}

/** Who opened a connection; the session's other sockets share its fate (see SessionSockets). */
export interface EventsOwner {
  sessionKey: string;
}

/** A connection's handle for the session tracker: ends it with a reason the page shows. */
export interface EventsConnection {
  end(code: ConsoleCloseCodeValue, message: string): void;
}

interface Subscriber {
  owner: EventsOwner;
  res: ServerResponse;
  keepalive: NodeJS.Timeout;
}

const DEFAULTS = { maxConnections: 1000, maxPerSession: 10, maxUnsentBytes: 256 * 1024, keepaliveMs: 15_000, retryMs: 3000 };

export class DeviceEvents {
  readonly #o: DeviceEventsOptions & typeof DEFAULTS;
  readonly #subscribers = new Set<Subscriber>();
  readonly #listeners = new Set<(batch: DeviceEventBatch) => void>();
  #follower: RegistryFollower | undefined;
  #closed = false;

  constructor(options: DeviceEventsOptions) {
    this.#o = { ...DEFAULTS, ...options };
  }

  /** Browser connections open now. */
  get connections(): number {
    return this.#subscribers.size;
  }

  /** Whether this process follows the hub's feed now (some browser is subscribed). */
  get following(): boolean {
    return this.#follower !== undefined;
  }

  /**
   * Calls `listener` with every batch before the browsers get it (caches that must not outlive a
   * change), until the returned function is called.
   */
  onBatch(listener: (batch: DeviceEventBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Serves the stream on `res` until the browser goes or the connection is ended. Throws an
   * ApiFailure (429 this session holds too many, 503 the process serves too many) before anything
   * is written.
   */
  serve(req: IncomingMessage, res: ServerResponse, owner: EventsOwner): EventsConnection {
    if (this.#closed || this.#subscribers.size >= this.#o.maxConnections) {
      throw new ApiFailure(503, 'too_many_watchers', 'The console is sending live updates to as many pages as it can; reload the page in a minute.', { 'retry-after': '30' });
    }
    let mine = 0;
    for (const s of this.#subscribers) if (s.owner.sessionKey === owner.sessionKey) mine += 1;
    if (mine >= this.#o.maxPerSession) {
      throw new ApiFailure(429, 'too_many_tabs', `This login already has ${mine} pages with live updates open; close some of them and reload this one.`, { 'retry-after': '30' });
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies that buffer responses (nginx) would hold the events back.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${this.#o.retryMs}\n: devicestreams device events\n\n`);
    const sub: Subscriber = {
      owner,
      res,
      keepalive: setInterval(() => this.#send(sub, ': keepalive\n\n'), this.#o.keepaliveMs),
    };
    sub.keepalive.unref();
    this.#subscribers.add(sub);
    const gone = (): void => this.#drop(sub);
    req.on('close', gone);
    res.on('close', gone);
    res.on('error', gone);
    if (this.#follower === undefined) {
      this.#follower = this.#o.follow((batch) => this.#fanOut(batch));
      this.#o.log(`console: following the hub's device feed for ${this.#subscribers.size} page(s)`);
    }
    return {
      end: (code, message) => {
        const body: DeviceEventsEnd = { code, message };
        this.#send(sub, `event: end\ndata: ${JSON.stringify(body)}\n\n`);
        res.end();
        this.#drop(sub);
      },
    };
  }

  #fanOut(batch: RegistryBatch): void {
    const out: DeviceEventBatch = 'many' in batch ? { many: true } : { deviceIds: batch.deviceIds };
    for (const l of this.#listeners) l(out);
    const text = `event: changed\ndata: ${JSON.stringify(out)}\n\n`;
    for (const sub of [...this.#subscribers]) this.#send(sub, text);
  }

  /** Writes to one browser, or cuts it off when it has left too much unread. */
  #send(sub: Subscriber, text: string): void {
    if (!this.#subscribers.has(sub)) return;
    if (sub.res.writableLength + Buffer.byteLength(text) > this.#o.maxUnsentBytes) {
      this.#o.log(`console: cut off a page's live updates: it left more than ${this.#o.maxUnsentBytes} bytes unread`);
      this.#drop(sub);
      sub.res.destroy();
      return;
    }
    sub.res.write(text);
  }

  #drop(sub: Subscriber): void {
    if (!this.#subscribers.delete(sub)) return;
    clearInterval(sub.keepalive);
    if (this.#subscribers.size === 0 && this.#follower !== undefined) {
      this.#follower.close();
      this.#follower = undefined;
      this.#o.log("console: no page watches the fleet; stopped following the hub's device feed");
    }
  }

  /** Ends every connection and stops following the hub. */
  close(): void {
    this.#closed = true;
    for (const sub of [...this.#subscribers]) {
      this.#drop(sub);
      sub.res.destroy();
    }
    this.#listeners.clear();
  }
}
