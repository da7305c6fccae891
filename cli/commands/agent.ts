/** `devicestreams agent` — the device agent. */
import { describeTarget, parseMapping, startAgent, type Target } from '../../device/agent.js';
import { parseDeviceConnectionString } from '../../shared/connection-string.js';
import { describeProxy, proxyFor } from '../../shared/proxy.js';
import { CliError, logLine, numberFlag, parse, readCa } from '../args.js';

const HELP = `
Usage: devicestreams agent --connection-string CS --ca FILE --map NAME=HOST:PORT [--map …]

Runs on the device. Keeps one outbound TLS connection to the hub and bridges each accepted stream
to the local TCP service its name maps to. Any other stream name is rejected with a reason.
Reconnects by itself (exponential backoff with jitter, capped at 30 s unless --max-backoff says
otherwise) and renews its token.

Options:
  --connection-string CS   device connection string (or DEVICE_CONNECTION_STRING)
  --ca FILE                CA that signed the hub's certificate (or DEVICESTREAMS_CA)
  --map NAME=HOST:PORT     a stream name and the local TCP service it reaches (repeatable)
  --map NAME=unix:PATH     … or a local Unix socket (the shell server listens on one)
  --hub-url URL            hub base URL when it differs from wss://HostName
  --token-ttl SECS         SAS token lifetime, renewed at 80% (default 3600)
  --max-backoff SECS       longest wait between reconnect attempts (default 30; 1-3600)
  --proxy URL              reach the hub through this HTTP proxy, http://[user:password@]host:port
                           (default: HTTPS_PROXY / https_proxy unless NO_PROXY names the hub)
  --no-proxy               never use a proxy, whatever the environment says
  -h, --help               this help

Example:
  devicestreams agent --connection-string "$DEVICE_CONNECTION_STRING" --ca hub-ca.pem \\
    --map ssh=127.0.0.1:22 --map shell=unix:/run/devicestreams/shell.sock
`;

export function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    'connection-string': { type: 'string' },
    ca: { type: 'string' },
    map: { type: 'string', multiple: true },
    'hub-url': { type: 'string' },
    'token-ttl': { type: 'string' },
    'max-backoff': { type: 'string' },
    proxy: { type: 'string' },
    'no-proxy': { type: 'boolean' },
  }, HELP);
  if (values.proxy !== undefined && values['no-proxy'] === true) throw new CliError('--proxy and --no-proxy contradict each other', 2);
  const cs = values['connection-string'] ?? process.env.DEVICE_CONNECTION_STRING;
  if (cs === undefined || cs === '') throw new CliError('no device connection string: pass --connection-string or set DEVICE_CONNECTION_STRING', 2);
  const targets = new Map<string, Target>();
  for (const m of values.map ?? []) {
    const [name, target] = parseMapping(m);
    if (targets.has(name)) throw new CliError(`--map: stream name "${name}" is mapped twice`, 2);
    targets.set(name, target);
  }
  if (targets.size === 0) logLine('warning: no --map given; every stream request will be rejected');
  const tokenTtlSeconds = numberFlag(values['token-ttl'], '--token-ttl', 3600, 5, 366 * 24 * 3600);
  const backoffCapMs = numberFlag(values['max-backoff'], '--max-backoff', 30, 1, 3600) * 1000;
  const proxy = values['no-proxy'] === true ? false : values.proxy;
  let via: URL | undefined;
  try {
    via = proxyFor(values['hub-url'] ?? `wss://${parseDeviceConnectionString(cs).hostName}`, proxy);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 2);
  }
  const agent = startAgent({
    connectionString: cs,
    ca: readCa(values.ca),
    hubUrl: values['hub-url'],
    tokenTtlSeconds,
    backoffCapMs,
    proxy,
    targets,
    log: logLine,
  });
  logLine(`agent for ${agent.client.deviceId}: ${[...targets].map(([n, t]) => `${n} → ${describeTarget(t)}`).join(', ') || 'no mappings'}`);
  if (via !== undefined) logLine(`reaching the hub through the proxy ${describeProxy(via)}`);
  const stop = (): void => {
    agent.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return Promise.resolve();
}
