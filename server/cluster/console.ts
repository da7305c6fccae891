/**
 * The console across a cluster's nodes. Revocations (an operator's role changed, password reset or
 * account deleted; a logout) are broadcast so the terminals and watches of that operator end at
 * once on every node, not only on the one that took the change. And an admin may watch a live
 * terminal that another node bridges: the watcher's node asks for it on the bus; the bridging node
 * answers with the screen so far and publishes the terminal's frames while a watch lease is held
 * (renewed every few seconds by the watcher's node), and nothing when nobody watches from afar.
 */
import type { Subscription } from '@nats-io/transport-node';
import { errors as natsErrors } from '@nats-io/transport-node';
import type { WebSocket } from 'ws';
import type { TerminalViewer } from '../bff/recording/recorder.js';
import { watchSocketViewer } from '../bff/recording/watch-socket.js';
import type { Bus } from './bus.js';
import { Revoke, WatchAnswer, WatchAsk, decode, encode, subjects, untoken } from './protocol.js';

const LEASE_MS = 10_000;
const RENEW_MS = 4_000;
/** Most terminals one node publishes for remote watchers at once. */
const MAX_PUBLISHED = 256;

type Follow = (streamId: string, viewer: TerminalViewer) => { snapshot: Uint8Array[]; stop(): void } | undefined;

interface Published {
  until: number;
  stop(): void;
}

export class ClusterConsole {
  readonly #bus: Bus;
  readonly #log: (line: string) => void;
  readonly #subs: Subscription[] = [];
  readonly #published = new Map<string, Published>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(bus: Bus, log: (line: string) => void) {
    this.#bus = bus;
    this.#log = log;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.#published) {
        if (p.until > now) continue;
        p.stop();
        this.#published.delete(id);
      }
    }, 1000);
    this.#sweeper.unref();
  }

  /** Tells every node (this one too) to end the sockets an operator or a session holds. */
  revoke(r: Revoke): void {
    this.#bus.publish(subjects.revoke, encode(r));
  }

  /** Calls `handler` for every revocation broadcast in the cluster. */
  onRevoke(handler: (r: Revoke) => void): void {
    this.#subs.push(this.#bus.subscribe(subjects.revoke, (msg) => {
      const r = decode(Revoke, msg.data);
      if (r !== undefined) handler(r);
    }));
  }

  /** Answers watch requests for the terminals `follow` knows (those this node bridges). */
  serveWatches(follow: Follow): void {
    this.#subs.push(this.#bus.subscribe(subjects.anyWatch, (msg) => {
      const ask = decode(WatchAsk, msg.data);
      const streamId = untoken(msg.subject.split('.')[2] ?? '');
      if (ask === undefined || streamId === '') return;
      const existing = this.#published.get(streamId);
      let snapshot: Uint8Array[] = [];
      if (existing !== undefined) {
        existing.until = Date.now() + ask.leaseMs;
      } else {
        if (this.#published.size >= MAX_PUBLISHED) return; // no answer: the watcher's node says it cannot be watched now
        const out = subjects.termOut(streamId);
        const followed = follow(streamId, {
          frame: (f) => this.#bus.publish(out, f),
          ended: () => {
            this.#bus.publish(out, new Uint8Array(0));
            this.#published.delete(streamId);
          },
        });
        if (followed === undefined) {
          // Not bridged here; whichever node bridges it answers (NATS takes the first answer).
          return;
        }
        snapshot = followed.snapshot;
        this.#published.set(streamId, { until: Date.now() + ask.leaseMs, stop: () => followed.stop() });
      }
      const answer: WatchAnswer = { live: true, ...(ask.snapshot ? { snapshot: Buffer.concat(snapshot).toString('base64') } : {}) };
      msg.respond(encode(answer));
    }));
  }

  /** Shows `ws` a live terminal another node bridges; false when no node has it live. */
  async watch(streamId: string, ws: WebSocket): Promise<boolean> {
    const to: { viewer?: TerminalViewer } = {};
    // Listening before asking: no frame published in between is lost.
    const sub = this.#bus.subscribe(subjects.termOut(streamId), (msg) => {
      if (msg.data.length === 0) to.viewer?.ended();
      else to.viewer?.frame(msg.data);
    });
    const ask = async (snapshot: boolean): Promise<WatchAnswer | undefined> => {
      try {
        const reply = await this.#bus.request(subjects.watch(streamId), encode({ leaseMs: LEASE_MS, snapshot } satisfies WatchAsk), 3000);
        return decode(WatchAnswer, reply.data);
      } catch (err) {
        if (err instanceof natsErrors.NoRespondersError || err instanceof natsErrors.TimeoutError || (err instanceof natsErrors.RequestError && err.isNoResponders())) return { live: false };
        throw err;
      }
    };
    const first = await ask(true);
    if (first === undefined || !first.live) {
      sub.unsubscribe();
      return false;
    }
    const renew = setInterval(() => {
      ask(false).then(
        (a) => {
          if (a === undefined || !a.live) to.viewer?.ended();
        },
        (err: unknown) => this.#log(`watch ${streamId}: could not renew (${String(err)})`),
      );
    }, RENEW_MS);
    renew.unref();
    to.viewer = watchSocketViewer(ws, streamId, [Buffer.from(first.snapshot ?? '', 'base64')], () => {
      clearInterval(renew);
      sub.unsubscribe();
    });
    return true;
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const s of this.#subs) s.unsubscribe();
    for (const p of this.#published.values()) p.stop();
    this.#published.clear();
  }
}
