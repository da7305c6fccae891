/**
 * The hub role: registry, authentication, control channels, stream initiation and the stream log,
 * served over one HTTP(S) server that `server.ts` owns. `createHub` wires the parts and returns
 * request and upgrade handlers; nothing here listens on a port.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { parseSasToken } from '../../shared/sas.js';
import { sendError } from '../http/respond.js';
import { Router } from '../http/router.js';
import { refuseBrowserOrigin } from '../http/upgrade.js';
import type { Store } from '../store/store.js';
import { Authenticator } from './auth.js';
import { DeviceConnections } from './device-connections.js';
import type { HubContext } from './hub-context.js';
import { createHubMetrics } from './metrics.js';
import { addRegistryRoutes } from './registry-routes.js';
import { StreamBroker } from './stream-broker.js';
import { addStreamRoutes } from './stream-routes.js';
import { StreamThrottle, type ThrottleOptions } from './throttle.js';

export interface HubOptions {
  store: Store;
  /** Host names (with port when not 443) that SAS tokens may be scoped to. */
  hostNames: string[];
  tokenSecret: Buffer;
  /** `wss://…` base of the streaming endpoint that stream URLs point at. */
  gatewayUrl: () => string;
  heartbeatIntervalMs: number;
  handshakeTimeoutMs: number;
  throttle: ThrottleOptions;
  log: (line: string) => void;
}

export interface Hub {
  context: HubContext;
  /** Answers the request if it is the hub's; false otherwise. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes the upgrade if it is a control channel; false otherwise. Throws DsError to refuse. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
}

/** The key a separate streaming endpoint signs its reports with, derived from the token secret. */
export function gatewayReportKey(tokenSecret: Buffer): Buffer {
  return createHmac('sha256', tokenSecret).update('devicestreams gateway report').digest();
}

export function createHub(o: HubOptions): Hub {
  // Read at scrape time, after the broker below exists.
  const metrics = createHubMetrics(() => broker.counts());
  const connections = new DeviceConnections({
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    log: o.log,
    onChange: (deviceId, online) => {
      metrics.connectedDevices.set(connections.size);
      try {
        o.store.devices.touch(deviceId, true);
      } catch (err) {
        o.log(`device ${deviceId}: could not record activity: ${String(err)}`);
      }
      o.log(`device ${deviceId} ${online ? 'connected' : 'disconnected'}`);
    },
  });
  const broker = new StreamBroker({
    store: o.store,
    connections,
    throttle: new StreamThrottle(o.throttle),
    metrics,
    tokenSecret: o.tokenSecret,
    gatewayUrl: o.gatewayUrl,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    log: o.log,
  });
  const orphans = o.store.streams.closeOrphans(Date.now());
  if (orphans > 0) o.log(`closed ${orphans} stream record(s) left open by the previous run (hubRestart)`);
  o.store.policies.ensureDefaults();

  const context: HubContext = {
    store: o.store,
    auth: new Authenticator(o.store, o.hostNames),
    connections,
    broker,
    metrics,
    streamingEndpoint: () => o.gatewayUrl().replace(/^ws/, 'http'),
    gatewayReportKey: gatewayReportKey(o.tokenSecret),
    log: o.log,
  };
  const router = new Router();
  addRegistryRoutes(router, context);
  addStreamRoutes(router, context);
  router.add('GET', '/metrics', async ({ res }) => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
  });
  router.add('GET', '/healthz', ({ res }) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  });

  return {
    context,
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
      context.auth.device(req.headers.authorization, deviceId);
      const expiry = parseSasToken(req.headers.authorization as string).expiry;
      connections.accept(req, socket, head, deviceId, expiry);
      return true;
    },
    close() {
      connections.close();
      broker.close();
    },
  };
}
