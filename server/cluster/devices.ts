/**
 * Reaching devices across the cluster. A device's control channel lives on whichever node it
 * reached; the store says which (`connected_node`). A stream request for a device held elsewhere
 * goes to that node as a NATS request on its own subject; a device that is connected nowhere is
 * waited for until some node announces it (`ds.devices.online`, sent once the store knows). A node
 * that announces a device another node still holds from an older connection makes that node drop
 * it (replaced); dropping a device (disabled, deleted) is broadcast, and its holder closes it.
 */
import type { Subscription } from '@nats-io/transport-node';
import { errors as natsErrors } from '@nats-io/transport-node';
import { CloseCode } from '../../shared/close-codes.js';
import type { StreamRequestMessage } from '../../shared/control-protocol.js';
import type { DeviceConnections } from '../hub/device-connections.js';
import type { DeviceRouter, RequestOutcome } from '../hub/stream-broker.js';
import type { Store } from '../store/store.js';
import type { Bus } from './bus.js';
import { Drop, Online, StreamAnswer, StreamAsk, decode, encode, subjects } from './protocol.js';

export interface ClusterDevicesOptions {
  bus: Bus;
  store: Store;
  node: string;
  local: DeviceConnections;
  log: (line: string) => void;
}

/** How much longer than the device's own answer timeout a node-to-node request may take. */
const RELAY_MARGIN_MS = 2000;

export class ClusterDevices implements DeviceRouter {
  readonly #o: ClusterDevicesOptions;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** When this node's current channel of each device connected (to settle who replaced whom). */
  readonly #connectedAt = new Map<string, number>();
  readonly #subs: Subscription[] = [];

  constructor(o: ClusterDevicesOptions) {
    this.#o = o;
    const { bus } = o;
    this.#subs.push(
      bus.subscribe(subjects.stream(o.node), async (msg) => {
        const ask = decode(StreamAsk, msg.data);
        if (ask === undefined) return;
        let answer: StreamAnswer;
        if (!o.local.isOnline(ask.deviceId)) {
          answer = { outcome: 'notHere' };
        } else {
          const outcome = await o.local.request(ask.deviceId, ask.message, ask.timeoutMs);
          answer = typeof outcome === 'string'
            ? { outcome }
            : { outcome: 'answer', accepted: outcome.accepted, ...(outcome.reason === undefined ? {} : { reason: outcome.reason }) };
        }
        msg.respond(encode(answer));
      }),
      bus.subscribe(subjects.online, (msg) => {
        const m = decode(Online, msg.data);
        if (m === undefined) return;
        const waiters = this.#waiters.get(m.deviceId);
        if (waiters !== undefined) {
          this.#waiters.delete(m.deviceId);
          for (const w of waiters) w();
        }
        // The device connected to another node after it connected here: this channel is the old one.
        const mine = this.#connectedAt.get(m.deviceId);
        if (m.node !== o.node && mine !== undefined && mine <= m.at) {
          o.local.disconnect(m.deviceId, CloseCode.Replaced, `a newer connection for this device reached node ${m.node}`);
        }
      }),
      bus.subscribe(subjects.drop, (msg) => {
        const m = decode(Drop, msg.data);
        if (m !== undefined) o.local.disconnect(m.deviceId, m.code, m.reason);
      }),
    );
  }

  /** A device connected here and the store says so: tell the cluster. */
  announce(deviceId: string, at: number): void {
    this.#connectedAt.set(deviceId, at);
    this.#o.bus.publish(subjects.online, encode({ deviceId, node: this.#o.node, at } satisfies Online));
  }

  /** A device's channel here ended. */
  forget(deviceId: string): void {
    this.#connectedAt.delete(deviceId);
  }

  /** Drops the device's channel wherever it is. */
  drop(deviceId: string, code: number, reason: string): void {
    this.#o.local.disconnect(deviceId, code, reason);
    this.#o.bus.publish(subjects.drop, encode({ deviceId, code, reason: reason.slice(0, 200) } satisfies Drop));
  }

  waitOnline(deviceId: string, timeoutMs: number, holder?: string | null): Promise<boolean> {
    // Connected here, or somewhere by the record the caller has just read.
    if (this.#o.local.isOnline(deviceId) || typeof holder === 'string') return Promise.resolve(true);
    return new Promise((resolve) => {
      let done = false;
      let set = this.#waiters.get(deviceId);
      if (set === undefined) this.#waiters.set(deviceId, (set = new Set()));
      const finish = (online: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        set.delete(waiter);
        if (set.size === 0 && this.#waiters.get(deviceId) === set) this.#waiters.delete(deviceId);
        resolve(online);
      };
      const waiter = (): void => finish(true);
      // Listening first, then asking the store: a connect between the two is not missed.
      set.add(waiter);
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      this.#o.store.devices.get(deviceId).then(
        (d) => {
          if (d?.connectedNode !== null && d?.connectedNode !== undefined) finish(true);
        },
        (err: unknown) => this.#o.log(`device ${deviceId}: cannot read where it is connected: ${String(err)}`),
      );
    });
  }

  async request(deviceId: string, msg: StreamRequestMessage, timeoutMs: number, known?: string | null): Promise<RequestOutcome> {
    // The device may move between nodes while we ask: one more look at the store, then give up.
    // The first try may go where the caller's fresh read of the record says (another node's).
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#o.local.isOnline(deviceId)) return this.#o.local.request(deviceId, msg, timeoutMs);
      const hinted = attempt === 0 && typeof known === 'string' && known !== this.#o.node;
      const holder = hinted ? known : ((await this.#o.store.devices.get(deviceId))?.connectedNode ?? null);
      if (holder === null) return 'disconnected';
      if (holder === this.#o.node) continue; // the store is behind this node's own channels; look again
      let reply;
      try {
        reply = await this.#o.bus.request(subjects.stream(holder), encode({ deviceId, message: msg, timeoutMs } satisfies StreamAsk), timeoutMs + RELAY_MARGIN_MS);
      } catch (err) {
        if (err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders())) {
          // The hinted node is gone (the device may be back on another already): look in the store.
          if (hinted) continue;
          return 'disconnected';
        }
        if (err instanceof natsErrors.TimeoutError) return 'timeout';
        throw err;
      }
      const answer = decode(StreamAnswer, reply.data);
      if (answer === undefined) return 'disconnected';
      if (answer.outcome === 'answer') return { type: 'streamResponse', requestId: msg.requestId, accepted: answer.accepted, ...(answer.reason === undefined ? {} : { reason: answer.reason }) };
      if (answer.outcome !== 'notHere') return answer.outcome;
    }
    return 'disconnected';
  }

  close(): void {
    // Waiting initiations end at their own timeout.
    for (const s of this.#subs) s.unsubscribe();
  }
}
