/**
 * `devicestreams-device enroll`: exchanges a one-use enrollment token for this device's identity
 * (`POST /enroll` on the hub) and writes the agent's configuration file, mode 0600. The install
 * script calls it so that the key goes from the hub's answer straight into that file: never
 * through a shell variable, a command line or the install log. The token comes on stdin.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { CliError, logLine, parse } from '../../cli/args.js';
import { parseDeviceConnectionString } from '../../shared/connection-string.js';
import { DsError } from '../../shared/errors.js';
import { postJson } from '../../shared/http-json.js';
import { parseMapping } from '../agent.js';

const HELP = `
Usage: devicestreams-device enroll --hub URL --prefix DIR [--out FILE] [--ca FILE] [--device-id ID] < token

Reads an enrollment token on stdin, exchanges it at the hub (POST URL/enroll) for this device's
identity, and writes the agent's configuration (mode 600) for "agent --config". The install
script runs it; the device's key appears nowhere else.

Options:
  --hub URL        the hub's address, https://HOST[:PORT]
  --prefix DIR     where the kit is installed; the kit's own services listen in DIR/run
  --out FILE       where to write the configuration (default PREFIX/etc/agent.json)
  --ca FILE        the hub's CA certificate; the configuration names it as a file of that
                   name beside itself (the install script puts it there)
  --device-id ID   the id to enroll as, for a token that names devices by a pattern
  -h, --help       this help
`;

/** Services the kit runs itself, so the hub may name them without a target. */
const KIT_SERVICES: Record<string, string> = { shell: 'shell.sock', files: 'files.sock' };

/** The hub's answer to a good token (the contract of POST /enroll). */
const enrollAnswer = z.object({
  deviceId: z.string().min(1),
  connectionString: z.string().min(1),
  maps: z.array(z.string()).max(256).default([]),
});

/** Most of stdin read for the token (a token is about 70 characters). */
const MAX_TOKEN_INPUT = 4096;

/** Reads the token: the first line of stdin, reading no more than MAX_TOKEN_INPUT bytes. */
function readToken(): string {
  const buf = Buffer.alloc(MAX_TOKEN_INPUT + 1);
  let size = 0;
  try {
    for (;;) {
      const n = readSync(0, buf, size, buf.length - size, null);
      size += n;
      if (n === 0 || size === buf.length || buf.subarray(0, size).includes(0x0a)) break;
    }
  } catch (err) {
    throw new CliError(`cannot read the token on stdin: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const line = buf.subarray(0, size).toString('utf8').split('\n')[0] ?? '';
  if (line.length > MAX_TOKEN_INPUT) throw new CliError(`the enrollment token on stdin is longer than ${MAX_TOKEN_INPUT} characters`, 2);
  const token = line.trim();
  if (token === '') throw new CliError('no enrollment token on stdin', 2);
  return token;
}

/** The hub's maps as the agent's: a bare kit service becomes its socket under PREFIX/run. */
export function kitMaps(maps: readonly string[], prefix: string): string[] {
  const out: string[] = [];
  for (const m of maps) {
    const socket = KIT_SERVICES[m];
    if (socket !== undefined) out.push(`${m}=unix:${join(prefix, 'run', socket)}`);
    else if (!m.includes('=')) logLine(`warning: the hub asks for service "${m}", which the kit does not run; map it with NAME=HOST:PORT (skipped)`);
    else {
      parseMapping(m); // throws naming a mapping the agent could not use
      out.push(m);
    }
  }
  return out;
}

/** Writes `text` to `path` with mode 0600 from the start (a temporary file beside it, then a rename). */
export function writePrivate(path: string, text: string): void {
  const tmp = join(dirname(path), `.${Date.now()}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    hub: { type: 'string' }, prefix: { type: 'string' }, out: { type: 'string' }, ca: { type: 'string' }, 'device-id': { type: 'string' },
  }, HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  if (values.hub === undefined || !/^https?:\/\//.test(values.hub)) throw new CliError('give --hub https://HOST[:PORT]', 2);
  if (values.prefix === undefined) throw new CliError('give --prefix DIR', 2);
  const hub = values.hub.replace(/\/+$/, '');
  const prefix = resolve(values.prefix);
  const caFile = values.ca === undefined ? undefined : resolve(values.ca);
  const ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
  const token = readToken();

  let raw: unknown;
  try {
    const body = values['device-id'] === undefined ? { token } : { token, deviceId: values['device-id'] };
    raw = await postJson(`${hub}/enroll`, {}, body, { ca, timeoutMs: 30_000 });
  } catch (err) {
    if (err instanceof DsError) throw new CliError(`the hub refused the enrollment: ${err.message} (${err.code})`);
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const parsed = enrollAnswer.safeParse(raw);
  if (!parsed.success) throw new CliError(`the hub's answer to POST ${hub}/enroll is not an enrollment (is this a DeviceStreams hub of the same version?)`);
  const answer = parsed.data;
  const cs = parseDeviceConnectionString(answer.connectionString);
  const config: Record<string, unknown> = { connectionString: answer.connectionString, maps: kitMaps(answer.maps, prefix) };
  if (caFile !== undefined) config.ca = basename(caFile);
  // The agent reaches the hub where the install did when that is not wss:// and the connection string's name.
  const reached = new URL(hub);
  if (reached.host !== cs.hostName || reached.protocol !== 'https:') config.hubUrl = hub.replace(/^http/, 'ws');
  writePrivate(values.out === undefined ? join(prefix, 'etc', 'agent.json') : resolve(values.out), `${JSON.stringify(config, null, 2)}\n`);
  logLine(`enrolled as device "${answer.deviceId}" (${(config.maps as string[]).length} service(s) mapped)`);
  process.stdout.write(`DEVICE ${answer.deviceId}\n`);
}
