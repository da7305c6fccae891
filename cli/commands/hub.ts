/** `devicestreams hub` — runs the hub (and by default the streaming endpoint) in this process. */
import { resolve } from 'node:path';
import { createBffRole } from '../../server/bff/role.js';
import { startServer, type Role, type RunningServer } from '../../server/server.js';
import { CliError, logLine, numberFlag, parse, urlFlag } from '../args.js';
import { storeUrl } from '../store-flags.js';
import { hostname } from 'node:os';
import { DEFAULT_APPS_DOMAIN, normaliseAppsDomain } from '../../shared/app-origin.js';
import { keepServingWithoutStdout } from '../outputs.js';

const HELP = `
Usage: devicestreams hub [options]

Runs the hub: device registry, SAS authentication, device control channels, stream initiation,
the stream log and /metrics; by default also the streaming endpoint, in one process over TLS.

Options:
  --data-dir DIR              where the SQLite store, TLS files and secrets live (default ./data)
  --store URL                 a cluster's store instead of the embedded one: postgres://USER:PASSWORD@HOST:PORT/DB
                              (or DEVICESTREAMS_STORE; the password may come from PGPASSWORD or
                              ~/.pgpass instead); the first node creates the schema
  --bus URL                   join a cluster over NATS: nats://HOST:PORT (or DEVICESTREAMS_BUS);
                              needs --store
  --node-id NAME              this node's name in the cluster (default the host name); letters,
                              digits, - and _
  --node-url URL              this node's own address, used in the streaming URLs it hands out
                              (default --public-url); --public-url stays the cluster's address
  --host H                    address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port P                    port (default 8443; 0 picks a free one)
  --public-url URL            URL devices and clients use, e.g. https://hub.example.com
                              (default https://localhost:PORT); connection strings carry its host
  --roles LIST                comma-separated: hub, gateway, bff (default hub,gateway,bff)
                              bff is the operator console (web UI) at the same URL
  --gateway-url URL           streaming endpoint base URL, when this process has no gateway role
  --hub-url URL               hub URL, when this process runs only the gateway role
  --hub-ca FILE               CA that signed this deployment's certificates (the hub's, the other
                              nodes'), when they are not from a public CA (with --tls-cert)
  --hub-connection-string CS  service connection string for a bff-only process
                              (or IOTHUB_CONNECTION_STRING; RegistryView + ServiceConnect:
                              the hub's "console" policy)
  --terminal-connect-timeout SECS
                              how long the console waits for an offline device (default 10)
  --console-origin URL        an extra Origin the console accepts (a dev server), repeatable
  --apps-domain NAME          device apps open at https://{device}--{service}.NAME (default
                              apps.localhost); a real deployment needs a wildcard DNS record and
                              certificate for *.NAME (README: Device web apps)
  --recording-budget-mib N    size budget of one terminal recording (default 64); past it the
                              recording stops with a marker, the session goes on
  --recording-retention-days N
                              recordings older than this are deleted (default 30)
  --tls-cert FILE             certificate chain (PEM) instead of the local CA's
  --tls-key FILE              its private key (PEM)
  --insecure                  plain HTTP, no TLS (development on loopback only)
  --heartbeat-interval SECS   ping interval on control channels and streams (default 15)
  --handshake-timeout SECS    initiation to both sides connected, at most 60 (default 60)
  --max-streams-per-device N  concurrent streams per device (default 20)
  --max-streams N             concurrent streams on this hub (default 2000)
  --max-initiations N         stream initiations per second (default 500)
  --max-unready-connections N connections that have not finished TLS and sent a request yet,
                              in all (default 4096); more are closed at once
  --max-unready-per-address N the same, per client address (default 512; behind a TCP load
                              balancer, where every connection has its address, set it to the
                              total)
  -h, --help                  this help

On first start it prints the iothubowner connection string (keep it secret) and the CA file that
agents and clients trust with --ca.

Examples:
  devicestreams hub
  devicestreams hub --host 0.0.0.0 --port 443 --public-url https://hub.example.com \\
    --tls-cert /etc/ssl/hub.pem --tls-key /etc/ssl/hub.key
`;

const ROLES: readonly Role[] = ['hub', 'gateway', 'bff'];


export async function run(argv: string[]): Promise<void> {
  keepServingWithoutStdout();
  const { values } = parse(argv, {
    'data-dir': { type: 'string' },
    store: { type: 'string' },
    bus: { type: 'string' },
    'node-id': { type: 'string' },
    'node-url': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'public-url': { type: 'string' },
    roles: { type: 'string' },
    'gateway-url': { type: 'string' },
    'hub-url': { type: 'string' },
    'hub-ca': { type: 'string' },
    'hub-connection-string': { type: 'string' },
    'terminal-connect-timeout': { type: 'string' },
    'console-origin': { type: 'string', multiple: true },
    'apps-domain': { type: 'string' },
    'recording-budget-mib': { type: 'string' },
    'recording-retention-days': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    insecure: { type: 'boolean' },
    'heartbeat-interval': { type: 'string' },
    'handshake-timeout': { type: 'string' },
    'max-streams-per-device': { type: 'string' },
    'max-streams': { type: 'string' },
    'max-initiations': { type: 'string' },
    'max-unready-connections': { type: 'string' },
    'max-unready-per-address': { type: 'string' },
  }, HELP);
  const dataDir = resolve(values['data-dir'] ?? 'data');
  const roles = new Set((values.roles ?? 'hub,gateway,bff').split(',').map((r) => r.trim()).filter(Boolean) as Role[]);
  for (const r of roles) if (!ROLES.includes(r)) throw new CliError(`--roles: unknown role "${r}" (use hub, gateway, bff)`, 2);
  if (roles.size === 0) throw new CliError('--roles: name at least one role', 2);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new CliError('--tls-cert and --tls-key go together', 2);
  if (values.insecure === true && values['tls-cert'] !== undefined) throw new CliError('--insecure and --tls-cert contradict each other', 2);
  if (!roles.has('gateway') && roles.has('hub') && values['gateway-url'] === undefined) {
    throw new CliError('without the gateway role, pass --gateway-url (where the streaming endpoint runs)', 2);
  }
  if (roles.has('gateway') && !roles.has('hub') && values['hub-url'] === undefined) {
    throw new CliError('without the hub role, pass --hub-url (where the hub runs)', 2);
  }
  urlFlag(values['hub-url'], '--hub-url', ['https:', 'http:'], 'https://HOST[:PORT], e.g. https://hub.example.com:8443 (http:// for a hub run with --insecure)');
  urlFlag(values['gateway-url'], '--gateway-url', ['https:', 'http:', 'wss:', 'ws:'], 'https://HOST[:PORT] or wss://HOST[:PORT], e.g. https://gw.example.com:8443 (http:// or ws:// without TLS)');
  if (values['public-url'] !== undefined && !/^https?:\/\/[^/]+\/?$/.test(values['public-url'])) {
    throw new CliError('--public-url must be a scheme and host, like https://hub.example.com:8443', 2);
  }
  const host = values.host ?? '127.0.0.1';
  const storeUrlValue = storeUrl(values.store);
  const busUrl = values.bus ?? (process.env.DEVICESTREAMS_BUS === '' ? undefined : process.env.DEVICESTREAMS_BUS);
  if (busUrl !== undefined && !/^(nats|tls):\/\/[^/]+$/.test(busUrl)) throw new CliError('--bus must look like nats://HOST:PORT', 2);
  if (busUrl !== undefined && storeUrlValue === undefined) throw new CliError('--bus needs --store postgres://… (a cluster shares its store)', 2);
  const nodeId = values['node-id'] ?? (busUrl === undefined ? undefined : hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64));
  if (nodeId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) throw new CliError('--node-id may use letters, digits, - and _ (1-64)', 2);
  if (values['node-url'] !== undefined && !/^https?:\/\/[^/]+\/?$/.test(values['node-url'])) {
    throw new CliError('--node-url must be a scheme and host, like https://node1.example.com:8443', 2);
  }
  if (roles.has('bff') && !roles.has('hub') && (values['hub-url'] === undefined || (values['hub-connection-string'] ?? process.env.IOTHUB_CONNECTION_STRING) === undefined)) {
    throw new CliError('the bff role without the hub role needs --hub-url and --hub-connection-string (or IOTHUB_CONNECTION_STRING)', 2);
  }
  let appsDomain: string;
  try {
    appsDomain = normaliseAppsDomain(values['apps-domain'] ?? DEFAULT_APPS_DOMAIN);
  } catch (err) {
    throw new CliError(`--apps-domain: ${(err as Error).message}`, 2);
  }
  const terminalConnectTimeout = numberFlag(values['terminal-connect-timeout'], '--terminal-connect-timeout', 10, 0, 60);

  let server: RunningServer;
  try {
    server = await startServer({
      roles,
      dataDir,
      storeUrl: storeUrlValue,
      busUrl,
      node: nodeId,
      nodeUrl: values['node-url'],
      host,
      port: numberFlag(values.port, '--port', 8443, 0, 65535),
      publicUrl: values['public-url'],
      appsDomain,
      tls: values.insecure === true ? { kind: 'none' } : values['tls-cert'] !== undefined
        ? { kind: 'files', certFile: values['tls-cert'], keyFile: values['tls-key'] as string }
        : { kind: 'local' },
      gatewayUrl: values['gateway-url'],
      hubUrl: values['hub-url'],
      hubCaFile: values['hub-ca'],
      heartbeatIntervalMs: numberFlag(values['heartbeat-interval'], '--heartbeat-interval', 15, 0.1, 3600) * 1000,
      handshakeTimeoutMs: numberFlag(values['handshake-timeout'], '--handshake-timeout', 60, 1, 60) * 1000,
      throttle: {
        maxStreamsPerDevice: numberFlag(values['max-streams-per-device'], '--max-streams-per-device', 20, 1, 1_000_000),
        maxStreamsPerHub: numberFlag(values['max-streams'], '--max-streams', 2000, 1, 10_000_000),
        initiationsPerSecond: numberFlag(values['max-initiations'], '--max-initiations', 500, 1, 1_000_000),
      },
      connectionLimits: {
        maxUnready: numberFlag(values['max-unready-connections'], '--max-unready-connections', 4096, 1, 1_000_000),
        maxUnreadyPerAddress: numberFlag(values['max-unready-per-address'], '--max-unready-per-address', 512, 1, 1_000_000),
      },
      log: logLine,
      extraRoles: !roles.has('bff') ? [] : [
        (s) => createBffRole(s, {
          dataDir,
          hubUrl: values['hub-url'],
          hubConnectionString: values['hub-connection-string'] ?? process.env.IOTHUB_CONNECTION_STRING,
          hubCaFile: values['hub-ca'],
          adminPassword: process.env.DEVICESTREAMS_ADMIN_PASSWORD,
          terminalConnectTimeoutSeconds: terminalConnectTimeout,
          allowedOrigins: values['console-origin'] ?? [],
          recordingBudgetBytes: Math.round(numberFlag(values['recording-budget-mib'], '--recording-budget-mib', 64, 0.001, 1_000_000) * 1024 * 1024),
          recordingRetentionMs: numberFlag(values['recording-retention-days'], '--recording-retention-days', 30, 0.00001, 36_500) * 24 * 3600 * 1000,
          log: logLine,
          announce: (line) => process.stdout.write(`\n${line}\n`),
        }),
      ],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Only our own listen: an outgoing connection (to the store, the bus) can fail with the same codes.
    if (e.code === 'EADDRINUSE' && e.syscall === 'listen') throw new CliError(`port ${values.port ?? 8443} on ${host} is in use; pick another with --port`);
    if (e.code === 'EACCES' && e.syscall === 'listen') throw new CliError(`not allowed to listen on ${host}:${values.port ?? 8443}; use a port above 1023 or run with the needed privilege`);
    throw err;
  }
  if (values.insecure === true && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    logLine('warning: --insecure on a non-loopback address sends keys and stream bytes in clear text');
  }
  const where = server.internalUrl === server.url ? server.url : `${server.internalUrl} for ${server.url}`;
  logLine(`DeviceStreams ${[...roles].join('+')} listening on ${where}${server.cluster === undefined ? '' : ` as node ${server.node} of a cluster`} (data in ${dataDir})`);
  if (roles.has('bff')) process.stdout.write(`Operator console: ${server.url}/\n`);
  if (server.caFile !== undefined) logLine(`CA certificate for agents and clients (--ca): ${server.caFile}`);
  if (server.hub?.firstStart === true) {
    const owner = (await server.ownerConnectionString()) ?? '';
    process.stdout.write(
      `\nFirst start: the iothubowner connection string (shown once; keep it secret):\n\n  ${owner}\n\n` +
        `  export IOTHUB_CONNECTION_STRING='${owner}'\n` +
        (server.caFile !== undefined ? `  export DEVICESTREAMS_CA='${server.caFile}'\n` : '') +
        '\n',
    );
  }
  process.stdout.write(`READY ${server.url}\n`);
  const stop = (signal: string): void => {
    logLine(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
