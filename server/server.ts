/**
 * One process serving the roles it is given (hub, gateway, bff) over one HTTPS server: TLS by
 * default with a local CA on first start, plain HTTP only when asked. `startServer` listens (port 0
 * picks a free port) and returns something you can `close()`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloseCode } from '../shared/close-codes.js';
import { DsError, ErrorCode } from '../shared/errors.js';
import { buildConnectionString } from '../shared/connection-string.js';
import { HANDSHAKE_DEADLINE_MS } from '../shared/limits.js';
import { ABORT_PATH, createRemoteGatewayControl, handleAbortRequest } from './gateway/remote-control.js';
import { createRemoteReporter } from './gateway/remote-reporter.js';
import { dropAlpnCopy } from './http/alpn.js';
import { splitTarget } from './http/router.js';
import { Gateway, type StreamReporter } from './gateway/gateway.js';
import { answerBadRequests } from './http/bad-requests.js';
import { DEFAULT_CONNECTION_LIMITS, guardConnections, type ConnectionLimits } from './http/connection-guard.js';
import { sendError } from './http/respond.js';
import { rejectUpgrade, refuseBrowserOrigin } from './http/upgrade.js';
import { createHub, gatewayReportKey, type Hub } from './hub/hub.js';
import { secureDataDir } from './data-dir.js';
import { dataDirSecrets } from './secrets.js';
import { SESSION_ID_CONTEXT, TicketKeys } from './http/ticket-keys.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { StreamThrottle } from './hub/throttle.js';
import { startCluster, type Cluster } from './cluster/cluster.js';
import type { DeviceConnections } from './hub/device-connections.js';
import type { StreamGateways } from './hub/stream-broker.js';
import { ensureLocalTls, loadTlsFiles, type TlsMaterial } from './tls.js';
import { isAppsHost } from '../shared/app-origin.js';

export type Role = 'hub' | 'gateway' | 'bff';

/** A role plugged into the server: answers what is its own, returns false otherwise. */
export interface RoleHandler {
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** The app origins (server/apps): every request and upgrade whose Host is under the apps domain, and nothing else. */
  apps?: { handleRequest(req: IncomingMessage, res: ServerResponse): void; handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void } | undefined;
  close(): void | Promise<void>;
}

export interface ServerOptions {
  roles: ReadonlySet<Role>;
  dataDir: string;
  host: string;
  port: number;
  /** The URL clients use to reach this server; default `https://localhost:{port}`. */
  publicUrl?: string | undefined;
  tls: { kind: 'local' } | { kind: 'files'; certFile: string; keyFile: string } | { kind: 'none' };
  /** Streaming endpoint base URL when this process does not run the gateway role. */
  gatewayUrl?: string | undefined;
  /** Hub URL when this process runs the gateway without the hub. */
  hubUrl?: string | undefined;
  /** CA to trust when talking to the hub from a separate gateway. */
  hubCaFile?: string | undefined;
  heartbeatIntervalMs: number;
  /** Initiation → both sides connected (default and most: 60 s). */
  handshakeTimeoutMs?: number | undefined;
  throttle: { maxStreamsPerDevice: number; maxStreamsPerHub: number; initiationsPerSecond: number };
  log: (line: string) => void;
  /** Caps on connections that have not finished TLS and sent a request yet (defaults: 512 per address, 4096 in all). */
  connectionLimits?: ConnectionLimits | undefined;
  /** `postgres://…`: the cluster store instead of the embedded one in the data directory. */
  storeUrl?: string | undefined;
  /** This node's id (default `local`): recorded with the devices it holds and the streams it starts. */
  node?: string | undefined;
  /** `nats://…`: join a cluster over this bus (needs `storeUrl`). */
  busUrl?: string | undefined;
  /** This node's own address in a cluster (streaming URLs of its endpoint); default the public URL. */
  nodeUrl?: string | undefined;
  /** Device apps live at `{device}--{service}.{appsDomain}` (shared/app-origin.ts); the local certificate covers `*.{appsDomain}`. */
  appsDomain?: string | undefined;
  /** Extra roles (the console's BFF) built once the server knows its URL. */
  extraRoles?: Array<(ctx: RunningServer) => RoleHandler | Promise<RoleHandler>>;
}

export interface RunningServer {
  url: string;
  /** How a client in this process (the BFF) reaches this server: its listen address. */
  internalUrl: string;
  port: number;
  /** `host[:port]` that connection strings carry. */
  hostName: string;
  caFile: string | undefined;
  /** This node's id. */
  node: string;
  /** The apps domain (device apps' origins are under it), when device apps are served. */
  appsDomain: string | undefined;
  /** The cluster this node belongs to, if any. */
  cluster: Cluster | undefined;
  store: Store | undefined;
  hub: Hub | undefined;
  gateway: Gateway | undefined;
  /** The iothubowner connection string, when this process has the store. */
  ownerConnectionString(): Promise<string | undefined>;
  /** A connection string for any policy, when this process has the store. */
  policyConnectionString(policy: string): Promise<string | undefined>;
  close(): Promise<void>;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  for (const line of secureDataDir(o.dataDir)) o.log(`data directory: ${line}`);
  const secure = o.tls.kind !== 'none';
  const presetPublic = o.publicUrl === undefined ? undefined : new URL(o.publicUrl);
  let tls: TlsMaterial | undefined;
  if (o.tls.kind === 'local') tls = await ensureLocalTls(o.dataDir, [o.host, presetPublic?.hostname.replace(/^\[|\]$/g, '') ?? '', ...(o.appsDomain === undefined ? [] : [`*.${o.appsDomain}`])]);
  else if (o.tls.kind === 'files') tls = loadTlsFiles(o.tls.certFile, o.tls.keyFile);

  const handlers: RoleHandler[] = [];
  let ready = false;
  const appsHandler = (req: IncomingMessage): NonNullable<RoleHandler['apps']> | null | undefined => {
    if (o.appsDomain === undefined || !isAppsHost(req.headers.host, o.appsDomain)) return undefined;
    return handlers.find((h) => h.apps !== undefined)?.apps ?? null;
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // An app origin's requests go to the app proxy alone (even /healthz is the device's), and no
    // other request ever reaches it.
    const apps = ready ? appsHandler(req) : undefined;
    if (apps === null) return sendError(res, new DsError(ErrorCode.RoleUnavailable, 'this node does not serve device apps (it runs no console role)'));
    if (apps !== undefined) {
      try {
        apps.handleRequest(req, res);
      } catch (err) {
        sendError(res, err, o.log);
      }
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    // For load balancers: alive (the process answers), and ready (it can serve: store and bus reachable).
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
      return;
    }
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      readiness().then(
        () => res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ready\n'),
        (err: unknown) => sendError(res, err, o.log),
      );
      return;
    }
    if (!ready) return sendError(res, new DsError(ErrorCode.RoleUnavailable, 'server is starting; retry in a moment'));
    // A handler that throws answers 500 with a tracking id; it never takes the process down.
    try {
      for (const h of handlers) if (h.handleRequest(req, res)) return;
    } catch (err) {
      sendError(res, err, o.log);
      return;
    }
    sendError(res, new DsError(ErrorCode.NotFound, `no route for ${req.method} ${(req.url ?? '').split('?')[0]}`));
  };
  const server: Server = secure
    ? createHttpsServer({ cert: tls?.cert, key: tls?.key, minVersion: 'TLSv1.2', handshakeTimeout: 10_000, sessionIdContext: SESSION_ID_CONTEXT }, onRequest)
    : createHttpServer(onRequest);
  guardConnections(server, o.connectionLimits ?? DEFAULT_CONNECTION_LIMITS, o.log);
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 20_000;
  // No deadline for a whole request: an upload of gigabytes over a slow link takes as long as it
  // takes. Bodies are timed where they are read instead: readBody gives a small body 30 s, a file
  // upload fails after a minute without a byte (server/bff/file-routes.ts); headers still have 20 s.
  server.requestTimeout = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    try {
      if (!ready) throw new DsError(ErrorCode.RoleUnavailable, 'server is starting; retry in a moment');
      const apps = appsHandler(req);
      if (apps === null) throw new DsError(ErrorCode.RoleUnavailable, 'this node does not serve device apps (it runs no console role)');
      if (apps !== undefined) return apps.handleUpgrade(req, socket, head);
      for (const h of handlers) if (h.handleUpgrade(req, socket, head)) return;
      throw new DsError(ErrorCode.NotFound, `no WebSocket endpoint at ${(req.url ?? '').split('?')[0]}`);
    } catch (err) {
      rejectUpgrade(socket, err);
    }
  });
  answerBadRequests(server);
  // Keepalive finds peers that vanished while their stream was paused by flow control (no pings then).
  server.on('connection', (socket: Socket) => socket.setKeepAlive(true, 30_000));
  if (secure) server.on('secureConnection', dropAlpnCopy);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = secure ? 'https' : 'http';
  const publicUrl = (o.publicUrl ?? `${scheme}://${hostForUrl(o.host)}:${port}`).replace(/\/+$/, '');
  const pub = new URL(publicUrl);
  const hostName = pub.port === '' ? pub.hostname : `${pub.hostname}:${pub.port}`;
  const wsBase = publicUrl.replace(/^http/, 'ws');

  const node = o.node ?? 'local';
  /** Resolves when this node can serve; rejects with the typed 503 that says what is missing. */
  const readiness = async (): Promise<void> => {
    if (!ready) throw new DsError(ErrorCode.RoleUnavailable, 'server is starting; retry in a moment');
    if (cluster !== undefined && !cluster.up) throw new DsError(ErrorCode.BusUnavailable, 'the cluster bus (NATS) is not reachable from this node; it reconnects by itself');
    if (store !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DsError(ErrorCode.StoreUnavailable, 'the store did not answer within 2 s')), 2000);
      });
      try {
        await Promise.race([store.ping(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  let store: Store | undefined;
  let hub: Hub | undefined;
  let gateway: Gateway | undefined;
  // The CA this node trusts for its own deployment's addresses: its local CA, or the one --hub-ca names.
  const localCaFile = tls?.caFile ?? o.hubCaFile;
  const localCa = localCaFile !== undefined ? readFileSync(localCaFile, 'utf8') : undefined;
  if (o.roles.has('hub') || o.storeUrl !== undefined) store = await openStore({ dataDir: o.dataDir, url: o.storeUrl, log: o.log });
  // The deployment's shared secrets: the store's, or the data directory's for a process without one.
  const secrets = store?.secrets ?? dataDirSecrets(o.dataDir);
  const tokenSecret = !o.roles.has('hub') && !o.roles.has('gateway') ? undefined : await secrets.getOrCreate('stream-token.key', 32);
  // TLS sessions resume on every node of the deployment and across restarts (http/ticket-keys.ts).
  const ticketKeys = secure ? new TicketKeys({ server: server as HttpsServer, secrets, log: o.log }) : undefined;
  await ticketKeys?.start();
  let cluster: Cluster | undefined;
  if (o.busUrl !== undefined) {
    if (store === undefined || store.engine !== 'postgres') throw new Error('a cluster node needs the cluster store: --store postgres://… together with --bus');
    cluster = await startCluster({
      busUrl: o.busUrl,
      store,
      node,
      roles: [...o.roles],
      nodeUrl: (o.nodeUrl ?? publicUrl).replace(/\/+$/, ''),
      throttle: o.throttle,
      log: o.log,
    });
  }

  if (o.roles.has('hub') && store !== undefined && tokenSecret !== undefined) {
    const gatewayUrl = o.roles.has('gateway') ? wsBase : o.gatewayUrl?.replace(/^http/, 'ws').replace(/\/+$/, '');
    if (gatewayUrl === undefined) throw new Error('without the gateway role, --gateway-url must name the streaming endpoint');
    // The endpoint that carries this hub's streams: in this process, or one of its own.
    const remote = o.roles.has('gateway') ? undefined : createRemoteGatewayControl({ gatewayUrl: gatewayUrl.replace(/^ws/, 'http'), key: gatewayReportKey(tokenSecret), ca: localCa, log: o.log });
    const gateways: StreamGateways = cluster?.gateways(() => gateway) ?? {
      pick: () => ({ node, url: gatewayUrl }),
      locate: (n) => (n === node ? gatewayUrl : undefined),
      endpoints: () => [gatewayUrl],
      abort: (_node, streamId, code, reason) => (gateway ?? remote)?.abort(streamId, code, reason),
    };
    const c = cluster;
    hub = await createHub({
      store,
      node,
      // On loopback, tokens may name 127.0.0.1 with the public port (this server's, or its balancer's).
      hostNames: [hostName, ...(pub.hostname === 'localhost' ? [`127.0.0.1:${pub.port === '' ? port : pub.port}`] : [])],
      tokenSecret,
      gateways,
      throttle: c?.throttle ?? new StreamThrottle(o.throttle),
      ...(c === undefined ? {} : {
        devices: (local: DeviceConnections) => c.devices(local),
        dropDevice: (local: DeviceConnections, id: string, code: number, reason: string) => c.dropDevice(local, id, code, reason),
        onPresence: (id: string, online: boolean, at: number) => c.onPresence(id, online, at),
        metricLabels: { node },
      }),
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      ...(process.env.DEVICESTREAMS_METRICS_TOKEN === undefined || process.env.DEVICESTREAMS_METRICS_TOKEN === '' ? {} : { metricsToken: process.env.DEVICESTREAMS_METRICS_TOKEN }),
      handshakeTimeoutMs: Math.min(o.handshakeTimeoutMs ?? HANDSHAKE_DEADLINE_MS, HANDSHAKE_DEADLINE_MS),
      // A kit copied into the data directory wins over the one `npm run build:device` made here. Devices
      // pin the CA that signed this node's certificate: its local CA, or the private one --hub-ca names.
      deviceKit: { kitDirs: [join(o.dataDir, 'device-kit'), resolve(import.meta.dirname, '..', 'dist', 'device-kit')], publicUrl, caFile: localCaFile },
      log: o.log,
    });
    handlers.push(hub);
    cluster?.shareFeed(hub.context.feed);
    const held = hub;
    cluster?.onReapedAlive(() => held.resyncPresence());
  }
  if (o.roles.has('gateway') && tokenSecret !== undefined) {
    let reporter: StreamReporter;
    if (hub !== undefined) {
      const broker = hub.context.broker;
      reporter = {
        opened: (id, v2) => broker.opened(id, v2),
        ended: (id, end) => broker.ended(id, end),
        interrupted: (id, totals, at) => broker.interrupted(id, totals, at),
        resumed: (id) => broker.resumed(id),
      };
    } else if (cluster !== undefined && store !== undefined) {
      // A gateway-only node of a cluster writes what it sees to the shared store itself.
      const s = store;
      reporter = {
        opened: (id, v2) => s.streams.opened(id, Date.now(), v2),
        ended: async (id, end) => void (await s.streams.ended(id, end, Date.now())),
        interrupted: async (id, totals, at) => void (await s.streams.interrupted(id, at, totals)),
        resumed: async (id) => {
          // Ended meanwhile (its window passed, its device revoked): the new pair goes too.
          if (await s.streams.resumed(id, Date.now())) return;
          const r = await s.streams.get(id);
          gateway?.abort(id, r?.closeCode ?? CloseCode.Aborted, r?.reason ?? 'the stream has ended');
        },
      };
      cluster.gateways(() => gateway);
    } else {
      if (o.hubUrl === undefined) throw new Error('without the hub role, --hub-url must name the hub');
      reporter = createRemoteReporter({
        hubUrl: o.hubUrl,
        key: gatewayReportKey(tokenSecret),
        ca: o.hubCaFile !== undefined ? readFileSync(o.hubCaFile, 'utf8') : localCa,
        log: o.log,
      });
    }
    const gw = new Gateway({ node, tokenSecret, reporter, heartbeatIntervalMs: o.heartbeatIntervalMs, log: o.log });
    gateway = gw;
    hub?.context.metrics.watchGateway(gw);
    const reportKey = gatewayReportKey(tokenSecret);
    handlers.push({
      handleRequest(req, res) {
        const m = req.method === 'POST' ? ABORT_PATH.exec(splitTarget(req.url).pathname) : null;
        if (m === null) return false;
        handleAbortRequest(req, res, m[1] as string, reportKey, gw).catch((err: unknown) => sendError(res, err, o.log));
        return true;
      },
      handleUpgrade(req, socket, head) {
        const m = /^\/bridges\/([A-Za-z0-9-]{1,64})(?:\?.*)?$/.exec(req.url ?? '');
        if (m === null) return false;
        refuseBrowserOrigin(req);
        gw.handleUpgrade(req, socket, head, m[1] as string);
        return true;
      },
      close: () => gw.close(),
    });
  }

  const policyConnectionString = async (policy: string): Promise<string | undefined> => {
    const p = await store?.policies.get(policy);
    return p === undefined ? undefined : buildConnectionString({ kind: 'service', hostName, sharedAccessKeyName: p.name, sharedAccessKey: p.primaryKey });
  };
  const listenHost = o.host === '0.0.0.0' || o.host === '' ? '127.0.0.1' : o.host === '::' ? '[::1]' : o.host.includes(':') ? `[${o.host}]` : o.host;
  const running: RunningServer = {
    url: publicUrl,
    internalUrl: `${scheme}://${listenHost}:${port}`,
    port,
    hostName,
    caFile: tls?.caFile,
    node,
    appsDomain: o.appsDomain,
    cluster,
    store,
    hub,
    gateway,
    ownerConnectionString: () => policyConnectionString('iothubowner'),
    policyConnectionString,
    async close() {
      ready = false;
      ticketKeys?.stop();
      for (const h of [...handlers].reverse()) await h.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await cluster?.close();
      await store?.close();
    },
  };
  for (const make of o.extraRoles ?? []) handlers.push(await make(running));
  ready = true;
  return running;
}
