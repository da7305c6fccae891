/** `devicestreams agent` — the device agent. */
import { describeTarget, parseMapping, startAgent, type Target } from '../../device/agent.js';
import { loadAgentConfig, type AgentConfig } from '../../device/agent-config.js';
import { parseDeviceConnectionString } from '../../shared/connection-string.js';
import { describeProxy, proxyFor } from '../../shared/proxy.js';
import { CliError, checkPemCertificates, logLine, numberFlag, parse, readCa, urlFlag } from '../args.js';
import { keepServingWithoutStdout } from '../outputs.js';
import { noteCaSource, trustHint } from '../tls-hints.js';

const HELP = `
Usage: devicestreams agent --connection-string CS --ca FILE --map NAME=HOST:PORT [--map …]
       devicestreams agent --config FILE

Runs on the device. Keeps one outbound TLS connection to the hub and bridges each accepted stream
to the local TCP service its name maps to. Any other stream name is rejected with a reason.
Reconnects by itself (exponential backoff with jitter, capped at 30 s unless --max-backoff says
otherwise) and renews its token.

Options:
  --config FILE            read the connection string (or hub, deviceId and key), the CA, the
                           mappings, hubUrl and proxy from this JSON file, which must be private
                           (mode 600): the key then never appears on a command line
  --connection-string CS   device connection string (or DEVICE_CONNECTION_STRING); ps shows it
                           with the key masked once the agent has started, not before
  --ca FILE                CA that signed the hub's certificate (or DEVICESTREAMS_CA)
  --map NAME=HOST:PORT     a stream name and the local TCP service it reaches (repeatable)
  --map NAME=unix:PATH     … or a local Unix socket (the shell server listens on one)
  --hub-url URL            hub base URL when it differs from wss://HostName: wss://HOST[:PORT]
                           or https://HOST[:PORT] (ws:// or http:// for a hub run with --insecure)
  --token-ttl SECS         SAS token lifetime, renewed at 80% (default 3600)
  --max-backoff SECS       longest wait between reconnect attempts (default 30; 1-3600)
  --proxy URL              reach the hub through this HTTP proxy, http://[user:password@]host:port
                           (default: HTTPS_PROXY / https_proxy unless NO_PROXY names the hub)
  --no-proxy               never use a proxy, whatever the environment says
  -h, --help               this help

Example (the connection string in DEVICE_CONNECTION_STRING):
  devicestreams agent --ca hub-ca.pem \\
    --map ssh=127.0.0.1:22 --map shell=unix:/run/devicestreams/shell.sock
`;

const HUB_URL_FORM = 'wss://HOST[:PORT] or https://HOST[:PORT], e.g. wss://hub.example.com:8443 (ws:// or http:// for a hub run with --insecure)';

/** The agent reaches the hub over a WebSocket: wss:// or ws://, or the same written as https:// or http://. */
function hubUrlSetting(value: string | undefined, what: string): string | undefined {
  return urlFlag(value, what, ['wss:', 'https:', 'ws:', 'http:'], HUB_URL_FORM);
}

/**
 * A line of the agent's log, with what to do when it is a TLS trust failure: the agent retries
 * for ever, so without the hint the log would only repeat OpenSSL's words.
 */
function logWithHint(line: string): void {
  const hint = line.startsWith('cannot connect to the hub: ') ? trustHint(line) : undefined;
  logLine(hint === undefined ? line : `${line}; ${hint}`);
}

/** One --map, or a usage error saying what is wrong with it. */
function mapping(text: string): [string, Target] {
  try {
    return parseMapping(text);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 2);
  }
}

/** The flags' settings, or the configuration file's when --config is given (never both). */
function settings(values: { config?: string | undefined; 'connection-string'?: string | undefined; ca?: string | undefined; map?: string[] | undefined; 'hub-url'?: string | undefined; proxy?: string | undefined }): AgentConfig {
  if (values.config !== undefined) {
    for (const flag of ['connection-string', 'ca', 'map'] as const) {
      if (values[flag] !== undefined) throw new CliError(`--${flag} and --config: put the setting in the configuration file`, 2);
    }
    let c: AgentConfig;
    try {
      c = loadAgentConfig(values.config);
    } catch (err) {
      throw new CliError(err instanceof Error ? err.message : String(err), 2);
    }
    if (c.ca !== undefined) {
      checkPemCertificates(c.ca, `the "ca" of ${values.config}`);
      noteCaSource(`the "ca" of ${values.config}`);
    }
    const hubUrl = values['hub-url'] ?? hubUrlSetting(c.hubUrl, `"hubUrl" in ${values.config}`);
    return { ...c, hubUrl, proxy: values.proxy ?? c.proxy };
  }
  const cs = values['connection-string'] ?? process.env.DEVICE_CONNECTION_STRING;
  if (cs === undefined || cs === '') throw new CliError('no device connection string: pass --connection-string or --config FILE, or set DEVICE_CONNECTION_STRING', 2);
  const targets = new Map<string, Target>();
  for (const m of values.map ?? []) {
    const [name, target] = mapping(m);
    if (targets.has(name)) throw new CliError(`--map: stream name "${name}" is mapped twice`, 2);
    targets.set(name, target);
  }
  return { connectionString: cs, ca: readCa(values.ca), targets, hubUrl: values['hub-url'], proxy: values.proxy };
}

/** Runs the agent; `agentName` is what it tells the hub it is (the device kit gives its version). */
export function run(argv: string[], agentName?: string): Promise<void> {
  keepServingWithoutStdout();
  const { values } = parse(argv, {
    config: { type: 'string' },
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
  const tokenTtlSeconds = numberFlag(values['token-ttl'], '--token-ttl', 3600, 5, 366 * 24 * 3600);
  const backoffCapMs = numberFlag(values['max-backoff'], '--max-backoff', 30, 1, 3600) * 1000;
  hubUrlSetting(values['hub-url'], '--hub-url');
  const { connectionString: cs, ca, targets, hubUrl, proxy: proxySetting } = settings(values);
  if (targets.size === 0) logLine('warning: no mappings given; every stream request will be rejected');
  const proxy = values['no-proxy'] === true ? false : proxySetting;
  let via: URL | undefined;
  try {
    via = proxyFor(hubUrl ?? `wss://${parseDeviceConnectionString(cs).hostName}`, proxy);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), 2);
  }
  const agent = startAgent({
    connectionString: cs,
    ca,
    hubUrl,
    ...(agentName === undefined ? {} : { agent: agentName }),
    tokenTtlSeconds,
    backoffCapMs,
    proxy,
    targets,
    log: logWithHint,
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
