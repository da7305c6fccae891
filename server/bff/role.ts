/**
 * The bff role inside `startServer`: in the hub's process it uses the hub's own `console` policy
 * and CA; as its own process it takes the hub URL, a service connection string and the hub's CA.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServiceClient } from '../sdk/service-client.js';
import type { RoleHandler, RunningServer } from '../server.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import type { ServiceClient } from '../sdk/service-client.js';
import { createBff } from './bff.js';

export interface BffRoleOptions {
  dataDir: string;
  /** Hub to use when this process does not run the hub role. */
  hubUrl?: string | undefined;
  hubConnectionString?: string | undefined;
  hubCaFile?: string | undefined;
  adminPassword?: string | undefined;
  terminalConnectTimeoutSeconds?: number | undefined;
  allowedOrigins?: readonly string[];
  log: (line: string) => void;
  announce?: (line: string) => void;
  recordingBudgetBytes?: number | undefined;
  recordingRetentionMs?: number | undefined;
}

export const WEB_ROOT = resolve(import.meta.dirname, '..', '..', 'web', 'dist');

export async function createBffRole(server: RunningServer, o: BffRoleOptions): Promise<RoleHandler> {
  let service: ServiceClient;
  let ownStore: Store | undefined;
  if (server.hub !== undefined) {
    const cs = await server.policyConnectionString('console');
    if (cs === undefined) throw new Error('the hub has no "console" policy');
    // This node's own certificate: from its local CA, or (--tls-cert) from the CA named by --hub-ca.
    const caFile = server.caFile ?? o.hubCaFile;
    const ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
    service = createServiceClient(cs, { ca, hubUrl: server.internalUrl });
  } else {
    if (o.hubUrl === undefined || o.hubConnectionString === undefined) {
      throw new Error('the bff role without the hub role needs --hub-url and --hub-connection-string');
    }
    service = createServiceClient(o.hubConnectionString, {
      hubUrl: o.hubUrl,
      ca: o.hubCaFile === undefined ? undefined : readFileSync(o.hubCaFile, 'utf8'),
    });
  }
  // Accounts, sessions and recordings: the cluster store when this node has one, else the console's own.
  const store = server.store ?? (ownStore = await openStore({ dataDir: o.dataDir }));
  if (!existsSync(join(WEB_ROOT, 'index.html'))) o.log(`note: the console is not built yet (${WEB_ROOT}); run: node scripts/build-web.js`);
  const bff = await createBff({
    store,
    cluster: server.cluster,
    node: server.node,
    service,
    webRoot: WEB_ROOT,
    secure: server.url.startsWith('https:'),
    adminPassword: o.adminPassword,
    terminalConnectTimeoutSeconds: o.terminalConnectTimeoutSeconds,
    allowedOrigins: o.allowedOrigins ?? [],
    apps: server.appsDomain === undefined ? undefined : { domain: server.appsDomain, publicUrl: server.url },
    log: o.log,
    ...(o.announce === undefined ? {} : { announce: o.announce }),
    ...(o.recordingBudgetBytes === undefined ? {} : { recordingBudgetBytes: o.recordingBudgetBytes }),
    ...(o.recordingRetentionMs === undefined ? {} : { recordingRetentionMs: o.recordingRetentionMs }),
  });
  return {
    handleRequest: (req, res) => bff.handleRequest(req, res),
    handleUpgrade: (req, socket, head) => bff.handleUpgrade(req, socket, head),
    apps: bff.apps,
    close: async () => {
      await bff.close();
      await ownStore?.close();
    },
  };
}
