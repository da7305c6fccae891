/**
 * Device apps in the browser, as the console's backend holds them: the handoff route of the console
 * API (operators and admins get a one-use link to the app's origin) and the proxy that serves the
 * app origins. The signing key lives in the store's secrets, so every node of a cluster issues and
 * checks the same tokens; a handoff's single use is claimed across the cluster's bus.
 */
import { z } from 'zod';
import { AppLabelError, HANDOFF_PATH, appOrigin } from '../../shared/app-origin.js';
import type { AppHandoff, Role } from '../../shared/console-api.js';
import type { Cluster } from '../cluster/cluster.js';
import { readBody } from '../http/respond.js';
import type { ServiceClient } from '../sdk/service-client.js';
import type { Store } from '../store/store.js';
import { badRequest, forbidden, sendApiJson, unauthorized } from '../bff/api-errors.js';
import type { ApiRoute } from '../bff/api-routes.js';
import type { SessionSockets } from '../bff/session-sockets.js';
import { APP_ROLES, AppAccess } from './app-access.js';
import { AppConnections, type AppConnectionLimits } from './app-connections.js';
import { createAppProxy, type AppProxy } from './app-proxy.js';
import { AppTokens, HANDOFF_TTL_MS } from './app-tokens.js';
import { UsedHandoffs } from './used-handoffs.js';

export interface AppsOptions {
  appsDomain: string;
  /** The console's public URL: app origins take its scheme and port. */
  publicUrl: string;
  store: Store;
  cluster?: Cluster | undefined;
  service: ServiceClient;
  sockets: SessionSockets;
  sessionLive: (sessionKey: string) => Promise<boolean>;
  roleOf: (operatorId: string) => Promise<Role | undefined>;
  limits?: Partial<AppConnectionLimits>;
  log: (line: string) => void;
}

export interface Apps {
  proxy: AppProxy;
  routes: ApiRoute[];
  connections: AppConnections;
  close(): void;
}

const handoffBody = z.object({ deviceId: z.string().min(1).max(128), service: z.string().min(1).max(64) });

export async function createApps(o: AppsOptions): Promise<Apps> {
  const tokens = new AppTokens(await o.store.secrets.getOrCreate('app-handoff.key', 32));
  const connections = new AppConnections({ service: o.service, sockets: o.sockets, ...(o.limits === undefined ? {} : { limits: o.limits }) });
  const proxy = createAppProxy({
    appsDomain: o.appsDomain,
    consoleUrl: `${o.publicUrl}/`,
    secure: o.publicUrl.startsWith('https:'),
    tokens,
    used: new UsedHandoffs(o.cluster?.bus.nc),
    access: new AppAccess({ sessionLive: o.sessionLive, roleOf: o.roleOf }),
    connections,
    log: o.log,
  });
  const routes: ApiRoute[] = [{
    method: 'POST',
    path: '/api/apps/handoff',
    run: async (req, res, caller) => {
      if (caller === undefined) throw unauthorized();
      if (!APP_ROLES.includes(caller.me.role)) throw forbidden('open device apps (operators and admins may)');
      let raw: unknown;
      try {
        raw = JSON.parse((await readBody(req, 4096)).toString('utf8'));
      } catch {
        throw badRequest('The request body must be JSON: {"deviceId": …, "service": …}.');
      }
      const parsed = handoffBody.safeParse(raw);
      if (!parsed.success) throw badRequest(`Field "${parsed.error.issues[0]?.path.join('.') || 'body'}": ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
      const { deviceId, service } = parsed.data;
      let origin: string;
      try {
        origin = appOrigin(o.publicUrl, o.appsDomain, deviceId, service);
      } catch (err) {
        if (err instanceof AppLabelError) throw badRequest(`${err.message}.`);
        throw err;
      }
      const exp = Date.now() + HANDOFF_TTL_MS;
      const token = tokens.sign('handoff', {
        operatorId: caller.operatorId, operator: caller.me.name, role: caller.me.role, sessionKey: caller.session.tokenHash, deviceId, service,
      }, exp);
      const body: AppHandoff = { url: `${origin}${HANDOFF_PATH}?token=${token}`, origin, expiresAt: new Date(exp).toISOString() };
      sendApiJson(res, 200, body);
    },
  }];
  return { proxy, routes, connections, close: () => connections.close() };
}
