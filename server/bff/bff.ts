/**
 * The console's backend (BFF): operator login and roles, the console API, terminal sessions and
 * the built SPA. It holds the hub credentials (a service connection string) and talks to the hub
 * only through the hub's REST API, so it runs in the hub's process or in its own. Nothing it sends
 * the browser carries a key, a token or a connection string.
 */
import { utf8Prefix } from '../../shared/ws-close.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RoleHandler } from '../server.js';
import type { ServiceClient } from '../sdk/service-client.js';
import type { Store } from '../store/store.js';
import { rejectUpgrade } from '../http/upgrade.js';
import { Router, splitTarget } from '../http/router.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { ConsoleCloseCode, type ConsoleCloseCodeValue } from '../../shared/console-protocol.js';
import { ApiFailure, routingFailure, sendApiError } from './api-errors.js';
import { apiRoutes, callerOf, type ApiContext, type ApiHandler } from './api-routes.js';
import { createDeviceRoutes } from './device-routes.js';
import { enrollmentRoutes } from './enrollment-routes.js';
import { fileRoutes } from './file-routes.js';
import { LoginLimiter } from './login-limiter.js';
import { OperatorAccounts } from './operators.js';
import { SessionSockets } from './session-sockets.js';
import { SessionStore } from './sessions.js';
import { SECURITY_HEADERS, createStaticHandler } from './static-files.js';
import { TerminalSessions } from './terminal-bridge.js';
import { Recorder } from './recording/recorder.js';
import { watchLocal } from './recording/watch-socket.js';
import { ClusterConsole } from '../cluster/console.js';
import type { Cluster } from '../cluster/cluster.js';
import { recordingRoutes } from './recording-routes.js';
import { ResumableTerminals } from './resumable-terminals.js';
import { terminalSessionRoutes } from './terminal-session-routes.js';
import { WebSocketServer } from 'ws';
import { createApps } from '../apps/apps.js';

export interface BffOptions {
  store: Store;
  /** The cluster this node belongs to: revocations and live watches then reach every node. */
  cluster?: Cluster | undefined;
  /** This node (recordings it writes are its own to finish after a crash). */
  node: string;
  service: ServiceClient;
  webRoot: string;
  /** Secure cookies (the console is served over HTTPS). */
  secure: boolean;
  /** Password for the first `admin` account; random (and printed once) when not given. */
  adminPassword?: string | undefined;
  sessionTtlMs?: number;
  terminalConnectTimeoutSeconds?: number;
  terminalResponseTimeoutSeconds?: number;
  /** Extra allowed Origins besides the page's own (e.g. a dev server). */
  allowedOrigins?: readonly string[];
  log: (line: string) => void;
  /** Announces the first admin password (default: log it). */
  announce?: (line: string) => void;
  /** Recordings' size budget and retention (they live in the store). */
  recordingBudgetBytes?: number;
  recordingRetentionMs?: number;
  /** Serve device apps on their own origins under `domain` (server/apps); `publicUrl` is the console's. */
  apps?: { domain: string; publicUrl: string } | undefined;
}

export interface Bff extends RoleHandler {
  operators: OperatorAccounts;
  terminals: TerminalSessions;
  recorder: Recorder;
  resumable: ResumableTerminals;
  /** The app origins' proxy, when device apps are served. */
  apps: RoleHandler['apps'];
}

/** The request's own origin as the browser sees it: scheme + Host header. */
function ownOrigin(req: IncomingMessage): string {
  const secure = 'encrypted' in req.socket && (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`;
}

export async function createBff(o: BffOptions): Promise<Bff> {
  const operators = new OperatorAccounts(o.store.operators);
  if ((await operators.count()) === 0) {
    const password = o.adminPassword ?? randomBytes(12).toString('base64url');
    // Two nodes of a new cluster may both get here; only the one whose account is made announces it.
    if (await operators.create('admin', password, 'admin')) (o.announce ?? o.log)(
      o.adminPassword === undefined
        ? `Console login created: user "admin", password "${password}" (shown once; change it or add operators as admin)`
        : 'Console login created: user "admin" with the password from DEVICESTREAMS_ADMIN_PASSWORD',
    );
  }
  const recorder = new Recorder({
    store: o.store,
    node: o.node,
    budgetBytes: o.recordingBudgetBytes ?? 64 * 1024 * 1024,
    retentionMs: o.recordingRetentionMs ?? 30 * 24 * 3600 * 1000,
    log: o.log,
  });
  const recovered = await recorder.recover();
  if (recovered > 0) o.log(`finished ${recovered} recording(s) left unfinished by the previous run`);
  void recorder.sweep().catch((err: unknown) => o.log(`recording retention: ${String(err)}`));
  const sessions = new SessionStore(o.store.sessions, o.sessionTtlMs ?? 12 * 3600 * 1000);
  const clusterConsole = o.cluster === undefined ? undefined : new ClusterConsole(o.cluster.bus, o.log);
  const sockets = new SessionSockets({
    ...(clusterConsole === undefined ? {} : { broadcast: (r) => clusterConsole.revoke(r) }),
    sessionLive: (key) => sessions.isLive(key),
    roleOf: async (id) => (await operators.getById(id))?.role,
    log: o.log,
  });
  if (clusterConsole !== undefined && o.cluster !== undefined) {
    clusterConsole.onRevoke((r) => sockets.applyRevoke(r));
    clusterConsole.serveWatches((id, viewer) => recorder.follow(id, viewer));
    // A node that died mid-session left its recordings unfinished; whoever reaps it finishes them.
    o.cluster.onReaped(async (node) => {
      const n = await recorder.recover(node);
      if (n > 0) o.log(`finished ${n} recording(s) node ${node} left unfinished`);
    });
  }
  const terminalStreams = {
    service: o.service,
    streamName: 'shell',
    connectTimeoutSeconds: o.terminalConnectTimeoutSeconds ?? 10,
    responseTimeoutSeconds: o.terminalResponseTimeoutSeconds ?? 10,
    log: o.log,
  };
  const resumable = new ResumableTerminals({ ...terminalStreams, store: o.store, node: o.node });
  // The connections this node bridged before it stopped are gone: their sessions are detached now.
  const orphaned = await resumable.recover();
  if (orphaned > 0) o.log(`${orphaned} terminal session(s) this node bridged before it stopped are detached now (their devices keep them for a while)`);
  o.cluster?.onReaped(async (node) => {
    const n = await resumable.recover(node);
    if (n > 0) o.log(`${n} terminal session(s) node ${node} bridged are detached now`);
  });
  const terminals = new TerminalSessions({
    ...terminalStreams,
    sockets,
    resumable,
    onOpen: (info) => (info.resume === undefined ? recorder.start(info) : recorder.resume(info.resume)),
  });
  const watchServer = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  const ctx: ApiContext = {
    operators,
    sessions,
    sockets,
    limiter: new LoginLimiter(o.store.logins, { windowMs: 5 * 60 * 1000, maxFailuresPerAddress: 20, maxFailuresPerName: 5 }),
    service: o.service,
    secureCookies: o.secure,
    recordingsOf: async (ids) => {
      const rows = await o.store.recordings.getMany(ids);
      const out = new Map<string, { size: number; truncated: boolean; live: boolean }>();
      for (const [id, r] of rows) out.set(id, { size: recorder.liveSize(id) ?? r.size, truncated: r.truncated, live: recorder.isLive(id) || r.endedAt === null });
      return out;
    },
  };
  const devices = createDeviceRoutes({ service: o.service, sockets, log: o.log });
  const apps = o.apps === undefined ? undefined : await createApps({
    appsDomain: o.apps.domain, publicUrl: o.apps.publicUrl, store: o.store, cluster: o.cluster, service: o.service, sockets,
    sessionLive: (key) => sessions.isLive(key), roleOf: async (id) => (await operators.getById(id))?.role, log: o.log,
  });
  const files = fileRoutes({
    service: o.service,
    // Only the caller's own session on that device, while its recording is written on this node.
    mark: async (who, label) => {
      const row = await resumable.get(who.sessionId);
      if (row === undefined || row.operatorId !== who.operatorId || row.deviceId !== who.deviceId || row.recordingId === null) return;
      recorder.mark(row.recordingId, label);
    },
    log: o.log,
  });
  const router = new Router<ApiHandler>();
  for (const r of [...files, ...devices.routes, ...apiRoutes(ctx), ...recordingRoutes(recorder), ...terminalSessionRoutes(resumable), ...enrollmentRoutes(o.service)]) router.add(r.method, r.path, r.run);
  for (const r of apps?.routes ?? []) router.add(r.method, r.path, r.run);
  const staticFiles = createStaticHandler(o.webRoot);
  const allowed = new Set(o.allowedOrigins ?? []);
  const originOk = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin !== undefined && (origin === ownOrigin(req) || allowed.has(origin));
  };

  return {
    operators,
    terminals,
    recorder,
    resumable,
    apps: apps?.proxy,
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const method = req.method ?? 'GET';
      if (!path.startsWith('/api/')) {
        if (method !== 'GET' && method !== 'HEAD') return false;
        return staticFiles(req, res);
      }
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      let route;
      try {
        route = router.match(method, req.url ?? '/');
      } catch (err) {
        sendApiError(res, routingFailure(err), o.log);
        return true;
      }
      if (route === undefined) {
        sendApiError(res, new ApiFailure(404, 'not_found', 'No such API.'), o.log);
        return true;
      }
      // Cross-site request forgery: every state-changing call must come from our own page.
      if (method !== 'GET' && method !== 'HEAD' && !originOk(req)) {
        sendApiError(res, new ApiFailure(403, 'bad_origin', 'This request did not come from the console page.'), o.log);
        return true;
      }
      const { handler, params } = route;
      callerOf(ctx, req)
        .then((caller) => handler(req, res, caller, params))
        .catch((err: unknown) => sendApiError(res, err, o.log));
      return true;
    },
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/api/terminal/watch' && path !== '/api/terminal') return false;
      if (!originOk(req)) throw new DsError(ErrorCode.Forbidden, `${path === '/api/terminal' ? 'terminal' : 'watch'} sockets may only be opened from the console page (Origin refused)`);
      const accept = async (): Promise<void> => {
        const caller = await callerOf(ctx, req);
        if (caller === undefined) throw new DsError(ErrorCode.MissingCredentials, 'log in first');
        if (path === '/api/terminal') {
          terminals.open(req, socket, head, { sessionKey: caller.session.tokenHash, operator: caller.me.name, operatorId: caller.operatorId, role: caller.me.role });
          return;
        }
        if (caller.me.role !== 'admin') throw new DsError(ErrorCode.Forbidden, 'only admins may watch live sessions');
        const streamId = splitTarget(req.url).query.get('streamId') ?? '';
        watchServer.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => undefined);
          const end = (code: ConsoleCloseCodeValue, message: string): void => {
            if (ws.readyState !== ws.OPEN) return;
            ws.send(JSON.stringify({ type: 'error', code, message }));
            ws.close(code, utf8Prefix(message, 123));
          };
          const untrack = sockets.track({ sessionKey: caller.session.tokenHash, operatorId: caller.operatorId, role: caller.me.role, close: end });
          ws.once('close', untrack);
          if (watchLocal((id, v) => recorder.follow(id, v), streamId, ws)) return;
          // Bridged by another node of the cluster? Only a recording still being written can be.
          void (async () => {
            const row = clusterConsole === undefined ? undefined : await o.store.recordings.get(streamId);
            const remote = row !== undefined && row.endedAt === null && (await clusterConsole?.watch(streamId, ws)) === true;
            if (!remote) end(ConsoleCloseCode.NotFound, 'This session is not live any more.');
          })().catch((err: unknown) => end(ConsoleCloseCode.Internal, `Could not reach the node that carries this session (${err instanceof Error ? err.message : String(err)}).`));
        });
      };
      accept().catch((err: unknown) => rejectUpgrade(socket, err));
      return true;
    },
    async close(): Promise<void> {
      devices.close();
      apps?.close();
      sockets.close();
      terminals.close();
      resumable.close();
      await recorder.close();
      watchServer.close();
    },
  };
}
