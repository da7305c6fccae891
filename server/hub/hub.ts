/**
 * The hub role: registry, authentication, control channels, stream initiation and the stream log,
 * served over one HTTP(S) server that `server.ts` owns. `createHub` wires the parts and returns
 * request and upgrade handlers; nothing here listens on a port. What is cluster-specific (reaching
 * devices and streaming endpoints on other nodes, cluster-wide limits) comes in through options;
 * without them the hub reaches only what this process holds.
 */
import { metricsAccess } from './metrics-access.js';
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../../shared/close-codes.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { parseSasToken } from '../../shared/sas.js';
import { signStreamToken } from '../../shared/stream-token.js';
import { sendError } from '../http/respond.js';
import { rejectUpgrade, refuseBrowserOrigin } from '../http/upgrade.js';
import { Router } from '../http/router.js';
import type { Store } from '../store/store.js';
import { Authenticator } from './auth.js';
import { DeviceConnections } from './device-connections.js';
import type { HubContext } from './hub-context.js';
import { createHubMetrics } from './metrics.js';
import { addRegistryRoutes } from './registry-routes.js';
import { DeviceFeed } from './device-feed.js';
import { PresenceWriter } from './presence-writer.js';
import { settledWithin } from '../../shared/settled-within.js';
import { StreamBroker, type DeviceRouter, type StreamGateways, type Throttle } from './stream-broker.js';
import { addResumeRoutes } from './resume-routes.js';
import { addDeviceKitRoutes, type DeviceKitOptions } from './device-kit-routes.js';
import { addStreamRoutes } from './stream-routes.js';
import { addEnrollmentRoutes } from './enrollment-routes.js';

export interface HubOptions {
  store: Store;
  /** This node's id (recorded with the devices it holds and the streams it starts). */
  node: string;
  /** Host names (with port when not 443) that SAS tokens may be scoped to. */
  hostNames: string[];
  tokenSecret: Buffer;
  /** Where streams are carried. */
  gateways: StreamGateways;
  /** Stream limits. */
  throttle: Throttle;
  /** How to reach devices held by other nodes; default: only this node's channels. */
  devices?: (local: DeviceConnections) => DeviceRouter;
  /** How to drop a device's channel wherever it is; default: only on this node. */
  dropDevice?: (local: DeviceConnections, deviceId: string, code: number, reason: string) => Promise<void>;
  heartbeatIntervalMs: number;
  handshakeTimeoutMs: number;
  /** Called once a device's connect or disconnect on this node is in the store (a cluster announces it). */
  onPresence?: (deviceId: string, online: boolean, at: number) => void;
  /** Extra labels on every metric (the node id in a cluster). */
  metricLabels?: Record<string, string>;
  /** The bearer token a Prometheus scraper may read /metrics with (besides service SAS tokens). */
  metricsToken?: string;
  /** Where the install script and device kit are served from (GET /install.sh, /ca.pem, /device-kit/…). */
  deviceKit?: DeviceKitOptions;
  log: (line: string) => void;
}

export interface Hub {
  context: HubContext;
  /** True when this start made the store's policies (a new hub or cluster): print the owner's connection string. */
  firstStart: boolean;
  /** Answers the request if it is the hub's; false otherwise. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes the upgrade if it is a control channel; false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Writes again, at the next presence check, which devices this node holds (the store lost track). */
  resyncPresence(): void;
  /** Drops every device channel and waits (at most CLOSE_PRESENCE_WAIT_MS) for the store to show them offline. */
  close(): Promise<void>;
}

/**
 * How long a stopping node waits for the store to record its devices offline. Without it a
 * cluster's store showed a stopped node's devices online until another node reaped it.
 */
const CLOSE_PRESENCE_WAIT_MS = 5000;

/** The key a separate streaming endpoint signs its reports with, derived from the token secret. */
export function gatewayReportKey(tokenSecret: Buffer): Buffer {
  return createHmac('sha256', tokenSecret).update('devicestreams gateway report').digest();
}

/** How often a failed presence write is retried as a whole-node sync, and how often one runs anyway. */
const PRESENCE_CHECK_MS = 3000;
const PRESENCE_RESYNC_MS = 60_000;
/** How often interrupted streams past their resume window are ended. */
const RESUME_SWEEP_MS = 2000;

export async function createHub(o: HubOptions): Promise<Hub> {
  // Read at scrape time, after the broker below exists.
  const metrics = createHubMetrics(() => broker.counts(), o.metricLabels ?? {});
  const feed = new DeviceFeed();
  /** Set when a presence write failed (store unreachable): the store must be told again what this node holds. */
  let presenceDirty = false;
  // Each device's latest presence, to the store in order, one write at a time per device.
  const presence = new PresenceWriter(
    async (deviceId, { online, at }) => {
      if (online) {
        if (!(await o.store.devices.connected(deviceId, o.node, at))) {
          // The store has a newer connection of it on another node: this one is stale, or the
          // nodes' clocks disagree. A whole-node check (the next within seconds, then one a
          // minute) claims it once that node has let go of it (its heartbeat drops a channel the
          // device left).
          presenceDirty = true;
          o.log(`device ${deviceId}: not recorded as connected here: the store has a newer connection of it on another node (are the nodes' clocks in sync?), or no longer has the device`);
        }
      } else await o.store.devices.disconnected(deviceId, o.node, at);
      // Once the store says so: whoever hears of it and reads the store sees the new state.
      o.onPresence?.(deviceId, online, at);
      feed.changed(deviceId);
    },
    (deviceId, { online }, err) => {
      presenceDirty = true;
      o.log(`device ${deviceId}: could not record its ${online ? 'connection' : 'disconnection'} (the store will be set right once it answers): ${String(err)}`);
    },
  );
  const connections = new DeviceConnections({
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    log: o.log,
    // What the agent says it runs, for the console's device rows.
    onHello: (deviceId, agent, services, instance, since) => {
      o.store.devices.setAgent(deviceId, agent, services).then((changed) => changed && feed.changed(deviceId), (err: unknown) => o.log(`device ${deviceId}: could not record its agent: ${String(err)}`));
      if (instance !== undefined) void deviceRestarted(deviceId, instance, since);
    },
    // A device hears it is connected once the store says so (a script that then asks another node finds it online).
    beforeWelcome: (deviceId) => presence.settled(deviceId),
    onChange: (deviceId, online, at) => {
      metrics.connectedDevices.set(connections.size);
      presence.changed(deviceId, online, at);
      o.log(`device ${deviceId} ${online ? 'connected' : 'disconnected'}`);
    },
  });
  /**
   * A hello from another agent instance (process) than the device's last: the one before is gone,
   * and with it its side of the streams it had. Those of them the endpoint already saw interrupted
   * would wait out their resume window for a resume that cannot come: they end now (4011, saying
   * why). Streams that are not interrupted stay (a second process with the same identity may hold
   * them), and so do streams accepted since this channel was (the new instance's).
   */
  async function deviceRestarted(deviceId: string, instance: string, since: number): Promise<void> {
    try {
      const before = await o.store.devices.swapInstance(deviceId, instance);
      if (before === null || before === undefined) return;
      const n = await broker.endDeviceStreams(deviceId, 'the device side restarted (a new agent process): its end of the stream is gone', {
        closeCode: CloseCode.Aborted,
        keep: (s) => s.interruptedAt === null || s.acceptedAt === null || s.acceptedAt >= since,
      });
      if (n > 0) o.log(`device ${deviceId}: its agent restarted; ended ${n} stream(s) of the one before`);
    } catch (err) {
      o.log(`device ${deviceId}: could not check its agent instance: ${String(err)}`);
    }
  }
  const broker = new StreamBroker({
    store: o.store,
    node: o.node,
    devices: o.devices?.(connections) ?? connections,
    gateways: o.gateways,
    throttle: o.throttle,
    metrics,
    tokenSecret: o.tokenSecret,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    log: o.log,
  });
  // Whatever this node held when it last stopped is over now.
  const at = Date.now();
  const orphans = await o.store.streams.closeNodeStreams(o.node, 'hubRestart', at);
  if (orphans > 0) o.log(`closed ${orphans} stream record(s) left open by the previous run (hubRestart)`);
  if (o.throttle.restore !== undefined) {
    // Resumable streams outlive a restart: they still count against the limits kept in memory.
    const live = await o.store.streams.liveFor();
    for (const s of live) o.throttle.restore(s.deviceId, s.id);
  }
  await o.store.devices.releaseNode(o.node, at);
  const createdPolicies = await o.store.policies.ensureDefaults();

  // Presence the store missed while it was unreachable is written again; a full check now and then.
  let lastSync = Date.now();
  let syncing = false;
  const presenceSync = setInterval(() => {
    if (syncing || (!presenceDirty && Date.now() - lastSync < PRESENCE_RESYNC_MS)) return;
    syncing = true;
    presenceDirty = false;
    o.store.devices
      .syncNode(o.node, connections.held(), Date.now())
      .then((corrected) => {
        lastSync = Date.now();
        if (corrected > 0) o.log(`presence: set ${corrected} device record(s) right in the store`);
      })
      .catch(() => {
        presenceDirty = true;
      })
      .finally(() => {
        syncing = false;
      });
  }, PRESENCE_CHECK_MS);
  presenceSync.unref();
  // Resumable streams interrupted past their window end (on every node; the update is idempotent).
  const resumeSweep = setInterval(() => {
    broker.endResumeTimeouts(Date.now()).catch(() => undefined);
  }, RESUME_SWEEP_MS);
  resumeSweep.unref();

  const dropDevice = o.dropDevice ?? ((local, deviceId, code, reason) => {
    local.disconnect(deviceId, code, reason);
    return Promise.resolve();
  });
  const context: HubContext = {
    store: o.store,
    auth: new Authenticator(o.store, o.hostNames),
    connections,
    broker,
    metrics,
    feed,
    streamingEndpoints: () => o.gateways.endpoints().map((u) => u.replace(/^ws/, 'http')),
    gatewayReportKey: gatewayReportKey(o.tokenSecret),
    async resumeGateway(stream) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = attempt === 0 ? stream : await o.store.streams.get(stream.id);
        if (current === undefined) break;
        const url = current.gatewayNode === null ? undefined : o.gateways.locate(current.gatewayNode);
        if (url !== undefined && current.gatewayNode !== null) return { node: current.gatewayNode, url };
        // Its endpoint's node is gone: both sides meet at another; the first to ask moves it.
        const next = o.gateways.pick();
        if (await o.store.streams.moveGateway(current.id, current.gatewayNode, next.node)) return next;
      }
      throw new DsError(ErrorCode.RoleUnavailable, 'no streaming endpoint can take the stream right now; retry shortly', { retryAfterSeconds: 2 });
    },
    signToken: (claims) => signStreamToken(o.tokenSecret, claims),
    async revoke(deviceId, code, reason, streamReason) {
      await dropDevice(connections, deviceId, code, reason);
      if (streamReason !== undefined) await broker.endDeviceStreams(deviceId, streamReason);
    },
    log: o.log,
  };
  const router = new Router();
  addRegistryRoutes(router, context);
  addStreamRoutes(router, context);
  addResumeRoutes(router, context);
  addEnrollmentRoutes(router, context, { hostName: o.hostNames[0] ?? 'localhost', publicUrl: o.deviceKit?.publicUrl, caFile: o.deviceKit?.caFile });
  if (o.deviceKit !== undefined) addDeviceKitRoutes(router, o.deviceKit);
  const mayReadMetrics = metricsAccess(context.auth, o.metricsToken);
  router.add('GET', '/metrics', async ({ req, res }) => {
    await mayReadMetrics(req.headers.authorization);
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
  });

  /** Authenticates a device's control-channel upgrade, then hands the socket to the channels. */
  const acceptDevice = async (req: IncomingMessage, socket: Duplex, head: Buffer, deviceId: string): Promise<void> => {
    await context.auth.device(req.headers.authorization, deviceId);
    const expiry = parseSasToken(req.headers.authorization as string).expiry;
    connections.accept(req, socket, head, deviceId, expiry);
  };

  return {
    context,
    firstStart: createdPolicies.includes('iothubowner'),
    handleRequest(req, res) {
      let matched;
      try {
        matched = router.match(req.method ?? 'GET', req.url ?? '/');
      } catch (err) {
        sendError(res, err, o.log);
        return true;
      }
      if (matched === undefined) return false;
      const { handler, params, query } = matched;
      // Handlers may throw synchronously or reject; both become an error answer, never a crash.
      Promise.resolve()
        .then(() => handler({ req, res, params, query }))
        .catch((err: unknown) => sendError(res, err, o.log));
      return true;
    },
    handleUpgrade(req, socket, head) {
      const m = /^\/devices\/([^/?]+)\/control(?:\?.*)?$/.exec(req.url ?? '');
      if (m === null) return false;
      refuseBrowserOrigin(req);
      let deviceId: string;
      try {
        deviceId = decodeURIComponent(m[1] as string);
      } catch {
        throw new DsError(ErrorCode.ArgumentInvalid, 'device id in the path is not valid URL encoding');
      }
      if (!DEVICE_ID_PATTERN.test(deviceId)) throw new DsError(ErrorCode.ArgumentInvalid, 'device id is not valid');
      acceptDevice(req, socket, head, deviceId).catch((err: unknown) => rejectUpgrade(socket, err));
      return true;
    },
    resyncPresence() {
      presenceDirty = true;
    },
    async close() {
      clearInterval(presenceSync);
      clearInterval(resumeSweep);
      connections.close();
      broker.close();
      await settledWithin(presence.drained(), CLOSE_PRESENCE_WAIT_MS);
      feed.close();
    },
  };
}
