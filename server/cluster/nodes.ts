/**
 * Which nodes of the cluster are alive, and cleaning up after those that are not.
 *
 * Liveness is a lease: each node keeps a key of its own in the NATS KV bucket `ds-nodes` (its
 * roles and its own address), written every `leaseMs / 3`; the bucket's max age is `leaseMs`, so
 * the key of a node that stopped writing is gone within a lease. (Debian's nats-server 2.9 removes
 * such keys without a marker and wakes no watcher, so the others read the bucket on a timer.)
 *
 * The reaper runs on every node on a timer and does its work only while it holds the cluster-wide
 * `reaper` lock of the store: nodes that hold devices or live streams in the store but have no key
 * and were not seen for two leases are gone, so their devices are marked connected nowhere (their
 * agents reconnect through the load balancer to the survivors) and their stream records end as
 * `nodeLost`. (One lease would call a node whose renewal came late, its event loop stalled on a
 * saturated machine, gone.) A node reaps only after
 * its own view of the bucket has been continuous for two leases, so a node that was cut off from
 * NATS does not mistake the others for dead.
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { Store } from '../store/store.js';
import type { Bus } from './bus.js';

export interface NodeInfo {
  node: string;
  roles: string[];
  /** This node's own https:// address (streaming URLs of its endpoint use it). */
  url: string;
  startedAt: number;
}

export interface NodeDirectoryOptions {
  bus: Bus;
  store: Store;
  self: NodeInfo;
  /** A node's key lapses this long after its last renewal; it is gone once unseen for two. Default 6 s. */
  leaseMs?: number;
  /** How often the survivors look for the dead. Default 3 s. */
  reapEveryMs?: number;
  /** Called for each node reaped, after its records were closed (the console finishes its recordings). */
  onReaped?: (node: string) => Promise<void>;
  log: (line: string) => void;
}

const BUCKET = 'ds-nodes';
/** Past the longest handshake (60 s) with room to spare: a stream this old still setting up never will. */
const STALE_HANDSHAKE_MS = 90_000;

export class NodeDirectory {
  readonly #o: NodeDirectoryOptions;
  readonly #leaseMs: number;
  #kv: KV | undefined;
  #live = new Map<string, NodeInfo>();
  /** When this node last saw each node's key (pruned after ten leases). */
  readonly #lastSeen = new Map<string, number>();
  /** Since when this node's reads of the bucket have all succeeded (undefined after a failure). */
  #viewSince: number | undefined;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;

  constructor(o: NodeDirectoryOptions) {
    this.#o = o;
    this.#leaseMs = o.leaseMs ?? 6000;
  }

  /** Opens the bucket, writes this node's key, reads the others; then keeps doing so. */
  async start(): Promise<void> {
    await this.#renew();
    await this.#refresh();
    const every = (ms: number, task: () => Promise<unknown>): void => {
      let running = false;
      const t = setInterval(() => {
        if (running || this.#closed) return;
        running = true;
        task()
          .catch((err: unknown) => this.#o.log(`cluster: ${err instanceof Error ? err.message : String(err)}`))
          .finally(() => {
            running = false;
          });
      }, ms);
      t.unref();
      this.#timers.push(t);
    };
    // Apart, so a slow read of the bucket never holds up this node's own renewal.
    every(this.#leaseMs / 3, () => this.#renew());
    every(this.#leaseMs / 3, () => this.#refresh());
    every(this.#o.reapEveryMs ?? 3000, () => this.reap());
  }

  async #bucket(): Promise<KV> {
    // File storage: the leases outlive a NATS restart (a restart is not every node dying).
    this.#kv ??= await new Kvm(this.#o.bus.nc).create(BUCKET, { history: 1, ttl: this.#leaseMs, storage: 'file' });
    return this.#kv;
  }

  async #renew(): Promise<void> {
    try {
      await (await this.#bucket()).put(this.#o.self.node, JSON.stringify(this.#o.self));
    } catch (err) {
      // The bucket may be gone (a NATS server without its storage); make it again next time.
      this.#kv = undefined;
      this.#viewSince = undefined;
      const why = err instanceof Error ? err.message : String(err);
      if (/jetstream (is )?not enabled/i.test(why)) {
        // Debian's packaged nats-server runs without it.
        throw new Error('cannot renew this node\'s lease: the NATS server runs without JetStream (or not for this account), where the nodes keep their leases: start it with -js -sd DIR (or a jetstream block in its configuration)', { cause: err });
      }
      throw new Error(`cannot renew this node's lease: ${why}`, { cause: err });
    }
  }

  async #refresh(): Promise<void> {
    try {
      const kv = await this.#bucket();
      const live = new Map<string, NodeInfo>();
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry === null || entry.operation !== 'PUT') continue;
        try {
          const info = JSON.parse(entry.string()) as NodeInfo;
          if (typeof info.node === 'string' && typeof info.url === 'string' && Array.isArray(info.roles)) live.set(info.node, info);
        } catch {
          // Not one of ours.
        }
      }
      live.set(this.#o.self.node, this.#o.self);
      this.#live = live;
      const now = Date.now();
      for (const node of live.keys()) this.#lastSeen.set(node, now);
      for (const [node, at] of this.#lastSeen) if (now - at > 10 * this.#leaseMs) this.#lastSeen.delete(node);
      this.#viewSince ??= Date.now();
    } catch (err) {
      this.#viewSince = undefined;
      throw err;
    }
  }

  /** The nodes alive now (this one always among them). */
  live(): ReadonlyMap<string, NodeInfo> {
    return this.#live;
  }

  /** Live nodes with the given role, this one included when it has it. */
  withRole(role: string): NodeInfo[] {
    return [...this.#live.values()].filter((n) => n.roles.includes(role));
  }

  /** Closes what dead nodes left behind; returns the nodes reaped. */
  async reap(): Promise<string[]> {
    if (this.#viewSince === undefined || Date.now() - this.#viewSince < 2 * this.#leaseMs) return [];
    const reaped: string[] = [];
    await this.#o.store.exclusively('reaper', async () => {
      const holders = new Set([...(await this.#o.store.devices.holdingNodes()), ...(await this.#o.store.streams.liveNodes())]);
      for (const node of holders) {
        if (this.#live.has(node)) continue;
        // A key this node saw within the last two leases: its node may only be late renewing (its
        // event loop stalled on a saturated machine); it gets that long before it is called gone.
        const seen = this.#lastSeen.get(node);
        if (seen !== undefined && Date.now() - seen < 2 * this.#leaseMs) continue;
        const at = Date.now();
        const devices = await this.#o.store.devices.releaseNode(node, at);
        const streams = await this.#o.store.streams.closeNodeStreams(node, 'nodeLost', at);
        this.#o.log(`cluster: node ${node} is gone (no lease seen for ${Math.round((Date.now() - (seen ?? this.#viewSince ?? Date.now())) / 1000)} s): ${devices} device(s) marked disconnected, ${streams} stream record(s) closed as nodeLost`);
        await this.#o.onReaped?.(node);
        reaped.push(node);
      }
      // Streams whose initiating node went away after they were accepted, and nobody connected.
      const stale = await this.#o.store.streams.endStale(Date.now() - STALE_HANDSHAKE_MS, Date.now());
      if (stale > 0) this.#o.log(`cluster: ended ${stale} stream record(s) whose handshake never finished`);
    });
    return reaped;
  }

  /** Stops renewing (the key lapses within a lease) and removes this node's key now. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#kv?.delete(this.#o.self.node).catch(() => undefined);
  }
}
