/**
 * A node's membership of a cluster: its bus connection, its lease and the reaper, and the pieces
 * the roles plug in instead of their single-process defaults — reaching devices held by other
 * nodes, handing streams to streaming endpoints, limits counted cluster-wide, and the registry's
 * change feed shared between nodes. Absent from a single hub's path.
 */
import type { DeviceConnections } from '../hub/device-connections.js';
import type { DeviceFeed } from '../hub/device-feed.js';
import type { DeviceRouter, GatewayControl, StreamGateways, Throttle } from '../hub/stream-broker.js';
import type { ThrottleOptions } from '../hub/throttle.js';
import type { Store } from '../store/store.js';
import { connectBus, type Bus } from './bus.js';
import { ClusterDevices } from './devices.js';
import { ClusterGateways } from './gateways.js';
import { NodeDirectory } from './nodes.js';
import { Changed, Reaped, decode, encode, subjects } from './protocol.js';
import { ClusterThrottle } from './throttle.js';

export interface ClusterOptions {
  busUrl: string;
  store: Store;
  node: string;
  roles: readonly string[];
  /** This node's own address (https://…), for the streaming URLs of its endpoint. */
  nodeUrl: string;
  throttle: ThrottleOptions;
  leaseMs?: number;
  log: (line: string) => void;
}

export interface Cluster {
  readonly bus: Bus;
  readonly nodes: NodeDirectory;
  readonly throttle: Throttle;
  /** The hub's way to devices on any node. */
  devices(local: DeviceConnections): DeviceRouter;
  /** Drops a device's channel on whichever node holds it. */
  dropDevice(local: DeviceConnections, deviceId: string, code: number, reason: string): Promise<void>;
  /** A device's connect or disconnect on this node is in the store. */
  onPresence(deviceId: string, online: boolean, at: number): void;
  /** Where streams are carried; `local` is this node's endpoint once it exists (gateway role). */
  gateways(local: () => GatewayControl | undefined): StreamGateways;
  /** Shares the registry's change feed with the other nodes. */
  shareFeed(feed: DeviceFeed): void;
  /** Registers work to do when a dead node is reaped (the console finishes its recordings). */
  onReaped(task: (node: string) => Promise<void>): void;
  /**
   * Registers what to do when another node reaped this one while it was alive (its lease lapsed
   * in a long pause): the store then says its devices are connected nowhere, so it writes again
   * what it holds.
   */
  onReapedAlive(task: () => void): void;
  /** Readiness: the bus is connected. */
  readonly up: boolean;
  close(): Promise<void>;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const bus = await connectBus(o.busUrl, o.node, o.log);
  const reapTasks: Array<(node: string) => Promise<void>> = [];
  const nodes = new NodeDirectory({
    bus,
    store: o.store,
    self: { node: o.node, roles: [...o.roles], url: o.nodeUrl.replace(/\/+$/, ''), startedAt: Date.now() },
    ...(o.leaseMs === undefined ? {} : { leaseMs: o.leaseMs }),
    onReaped: async (node) => {
      for (const t of reapTasks) await t(node);
      // If that node is in fact alive (a pause longer than its lease), it hears this and says again what it holds.
      bus.publish(subjects.reaped, encode({ node, by: o.node } satisfies Reaped));
    },
    log: o.log,
  });
  await nodes.start();
  const aliveTasks: Array<() => void> = [];
  const reapedSub = bus.subscribe(subjects.reaped, (msg) => {
    const m = decode(Reaped, msg.data);
    if (m === undefined || m.node !== o.node) return;
    o.log(`cluster: node ${m.by} took this node for gone (its lease lapsed); writing again the devices it holds`);
    for (const t of aliveTasks) t();
  });
  let devices: ClusterDevices | undefined;
  let gateways: ClusterGateways | undefined;
  const closers: Array<() => void> = [() => reapedSub.unsubscribe()];
  return {
    bus,
    nodes,
    throttle: new ClusterThrottle(o.store, o.throttle),
    devices(local) {
      devices = new ClusterDevices({ bus, store: o.store, node: o.node, local, log: o.log });
      return devices;
    },
    dropDevice(local, deviceId, code, reason) {
      if (devices === undefined) local.disconnect(deviceId, code, reason);
      else devices.drop(deviceId, code, reason);
      return Promise.resolve();
    },
    onPresence(deviceId, online, at) {
      if (online) devices?.announce(deviceId, at);
      else devices?.forget(deviceId);
    },
    gateways(local) {
      gateways = new ClusterGateways({ bus, nodes, node: o.node, hasLocal: o.roles.includes('gateway'), local, localUrl: o.nodeUrl.replace(/^http/, 'ws').replace(/\/+$/, '') });
      return gateways;
    },
    shareFeed(feed) {
      feed.forward = (deviceId) => bus.publish(subjects.changed, encode({ deviceId, node: o.node } satisfies Changed));
      const sub = bus.subscribe(subjects.changed, (msg) => {
        const m = decode(Changed, msg.data);
        if (m !== undefined && m.node !== o.node) feed.received(m.deviceId);
      });
      closers.push(() => sub.unsubscribe());
    },
    onReaped(task) {
      reapTasks.push(task);
    },
    onReapedAlive(task) {
      aliveTasks.push(task);
    },
    get up() {
      return bus.up;
    },
    async close() {
      for (const c of closers) c();
      devices?.close();
      gateways?.close();
      await nodes.close();
      await bus.close();
    },
  };
}
