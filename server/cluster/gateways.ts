/**
 * Where a cluster carries streams. A node with the gateway role carries the streams it initiates
 * (no extra hop); a node without it hands them, in turn, to the live nodes that have it. Each
 * stream's URL names that node's own address (`--node-url`), so both sides meet on the same
 * endpoint and endpoints never talk to each other. Aborts reach the endpoint's node over NATS.
 */
import type { Subscription } from '@nats-io/transport-node';
import { DsError, ErrorCode } from '../../shared/errors.js';
import type { GatewayControl, StreamGateways } from '../hub/stream-broker.js';
import type { Bus } from './bus.js';
import type { NodeDirectory } from './nodes.js';
import { Abort, decode, encode, subjects } from './protocol.js';

export interface ClusterGatewaysOptions {
  bus: Bus;
  nodes: NodeDirectory;
  node: string;
  /** Whether this node runs a streaming endpoint (the gateway role). */
  hasLocal: boolean;
  /** This node's endpoint (it exists once the server has built it). */
  local: () => GatewayControl | undefined;
  /** `wss://…` of this node's own address. */
  localUrl: string;
}

export class ClusterGateways implements StreamGateways {
  readonly #o: ClusterGatewaysOptions;
  readonly #sub: Subscription | undefined;
  #next = 0;

  constructor(o: ClusterGatewaysOptions) {
    this.#o = o;
    this.#sub = !o.hasLocal ? undefined : o.bus.subscribe(subjects.abort(o.node), (msg) => {
      const m = decode(Abort, msg.data);
      if (m !== undefined) o.local()?.abort(m.streamId, m.code, m.reason);
    });
  }

  pick(): { node: string; url: string } {
    if (this.#o.hasLocal) return { node: this.#o.node, url: this.#o.localUrl };
    const candidates = this.#o.nodes.withRole('gateway').sort((a, b) => a.node.localeCompare(b.node));
    const chosen = candidates[this.#next++ % Math.max(1, candidates.length)];
    if (chosen === undefined) throw new DsError(ErrorCode.RoleUnavailable, 'no node of the cluster runs a streaming endpoint (role gateway) right now; retry shortly', { retryAfterSeconds: 5 });
    return { node: chosen.node, url: chosen.url.replace(/^http/, 'ws').replace(/\/+$/, '') };
  }

  locate(node: string): string | undefined {
    if (node === this.#o.node && this.#o.hasLocal) return this.#o.localUrl;
    const info = this.#o.nodes.live().get(node);
    return info !== undefined && info.roles.includes('gateway') ? info.url.replace(/^http/, 'ws').replace(/\/+$/, '') : undefined;
  }

  endpoints(): string[] {
    return this.#o.nodes.withRole('gateway').map((n) => n.url.replace(/^http/, 'ws').replace(/\/+$/, '')).sort();
  }

  abort(node: string, streamId: string, code: number, reason: string): void {
    const local = node === this.#o.node ? this.#o.local() : undefined;
    if (local !== undefined) {
      local.abort(streamId, code, reason);
      return;
    }
    this.#o.bus.publish(subjects.abort(node), encode({ streamId, code, reason: reason.slice(0, 200) } satisfies Abort));
  }

  close(): void {
    this.#sub?.unsubscribe();
  }
}
