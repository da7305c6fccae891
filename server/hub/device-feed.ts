/**
 * The registry's change feed: which devices changed (created, updated, deleted, connected,
 * disconnected), coalesced, for clients that show a fleet without re-reading it (the console).
 * Served as Server-Sent Events at `GET /devices/events`: `event: changed` with
 * `{"deviceIds":[…]}`, or `{"many":true}` when more changed in one beat than are worth naming (read
 * what you show again). Bounded everywhere: the ids gathered per beat, the subscribers, and what a
 * slow subscriber may have unsent before it is cut off. In a cluster every node feeds the changes
 * it sees to the others (server/cluster/), so a subscriber on any node sees the whole fleet.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type FeedBatch = { deviceIds: string[] } | { many: true };

/** More ids than this in one beat are sent as `many`. */
const MAX_IDS_PER_BATCH = 500;
/** How often gathered changes go out. */
const BEAT_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
const MAX_SUBSCRIBERS = 1000;
/** Unsent bytes a subscriber may have before it is cut off (it reconnects and reads afresh). */
const MAX_UNSENT_BYTES = 256 * 1024;

export class DeviceFeed {
  readonly #listeners = new Set<(batch: FeedBatch) => void>();
  #pending = new Set<string>();
  #many = false;
  #timer: NodeJS.Timeout | undefined;
  /** Changes seen here are also passed on to the rest of a cluster through this. */
  forward: ((deviceId: string) => void) | undefined;

  /** A device changed on this node. */
  changed(deviceId: string): void {
    this.forward?.(deviceId);
    this.received(deviceId);
  }

  /** A device changed on another node. */
  received(deviceId: string): void {
    if (this.#listeners.size === 0) return;
    if (!this.#many) {
      this.#pending.add(deviceId);
      if (this.#pending.size > MAX_IDS_PER_BATCH) {
        this.#many = true;
        this.#pending = new Set();
      }
    }
    this.#timer ??= setTimeout(() => this.#flush(), BEAT_MS);
  }

  #flush(): void {
    this.#timer = undefined;
    const batch: FeedBatch = this.#many ? { many: true } : { deviceIds: [...this.#pending] };
    this.#many = false;
    this.#pending = new Set();
    for (const l of this.#listeners) l(batch);
  }

  /** Listens for batches until the returned function is called; undefined when there are too many listeners. */
  subscribe(listener: (batch: FeedBatch) => void): (() => void) | undefined {
    if (this.#listeners.size >= MAX_SUBSCRIBERS) return undefined;
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /** Serves the feed as Server-Sent Events on `res` until the client goes. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const unsubscribe = this.subscribe((batch) => {
      if (res.writableLength > MAX_UNSENT_BYTES) {
        res.destroy();
        return;
      }
      res.write(`event: changed\ndata: ${JSON.stringify(batch)}\n\n`);
    });
    if (unsubscribe === undefined) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': devicestreams device feed\n\n');
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = (): void => {
      clearInterval(keepalive);
      unsubscribe();
    };
    req.on('close', end);
    res.on('close', end);
    return true;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }
}
