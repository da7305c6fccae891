/** `devicestreams file-server` — files in and out of one directory on the device, for `devicestreams cp`. */
import { DEFAULT_MAX_FILE_SIZE, createFileServer } from '../../device/file-server.js';
import { lookupUser, type ShellUser } from '../../device/shell/run-as.js';
import { CliError, directoryFlag, logLine, parse } from '../args.js';
import { LISTEN_FLAGS, describeListening, listenFailure, listenTargetFromFlags } from '../listen-flags.js';
import { keepServingWithoutStdout } from '../outputs.js';

/** Where the file server listens unless told otherwise. */
export const DEFAULT_SOCKET = '/run/devicestreams/files.sock';

const HELP = `
Usage: devicestreams file-server --root DIR [--listen unix:PATH] [options]

Runs on the device. Every connection copies one file into or out of DIR with the DeviceStreams
file protocol; map a stream name (files) to it on the agent and "devicestreams cp" reaches it.
Paths are relative to DIR: absolute paths, ".." and symlinks that lead out of DIR are refused.
An upload goes to a temporary file beside its target and is renamed over it only when every byte
arrived (fsynced first), so a cut-off upload leaves the old file, or nothing, in place.

It has no authentication of its own (the hub authorises the stream), so only the agent may reach
it: it listens on a Unix socket in a directory only its own user can enter (created 0700; an
existing one must be private). Run the agent as the same user (or root).

Options:
  --root DIR             the directory it serves (required)
  --listen unix:PATH     the socket to listen on (default ${DEFAULT_SOCKET}); the agent maps
                         it with --map files=unix:PATH
  --listen HOST:PORT     TCP instead, only together with --insecure-tcp: any local user who can
                         connect can read and write DIR (port 0 picks a free one)
  --insecure-tcp         allow --listen HOST:PORT (test rigs, containers with nobody else in them)
  --max-file-size SIZE   largest file sent or accepted: bytes, or with K, M, G or T (powers of
                         1024), e.g. 512M (default 4G)
  --user NAME            after it listens, run as this account (its uid, gid and groups), so files
                         are read and written with that account's rights; needs root
  -h, --help             this help

Prints "LISTENING unix:PATH" (or "LISTENING HOST:PORT") once it accepts connections.

Example:
  devicestreams file-server --root /srv/files --user pi &
  devicestreams agent --ca hub-ca.pem \\
    --map files=unix:${DEFAULT_SOCKET}
`;

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes from "123", "512K", "100M", "4G" (an optional trailing B or iB is accepted). */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const n = m === null ? Number.NaN : Math.floor(Number(m[1]) * (UNITS[(m[2] as string).toUpperCase()] ?? Number.NaN));
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`--max-file-size ${text} must be a size such as 1048576, 512M or 4G`, 2);
  return n;
}

function parseUser(name: string | undefined): ShellUser | undefined {
  if (name === undefined) return undefined;
  let user: ShellUser;
  try {
    user = lookupUser(name);
  } catch (err) {
    throw new CliError(`--user ${name}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
  const self = process.getuid?.();
  if (self !== user.uid && self !== 0) throw new CliError(`--user ${name}: running as another account needs root (this process runs as uid ${String(self)})`, 2);
  return user;
}

/** Becomes `user` for good: its supplementary groups, gid, then uid (the order that can still change each). */
function becomeUser(user: ShellUser): void {
  if (process.getuid?.() === user.uid) return;
  // Node has process.initgroups on POSIX; @types/node does not declare it.
  (process as unknown as { initgroups: (user: string, extraGroup: number) => void }).initgroups(user.name, user.gid);
  process.setgid?.(user.gid);
  process.setuid?.(user.uid);
}

export async function run(argv: string[]): Promise<void> {
  keepServingWithoutStdout();
  const { values, positionals } = parse(argv, {
    root: { type: 'string' },
    ...LISTEN_FLAGS,
    'max-file-size': { type: 'string' },
    user: { type: 'string' },
  }, HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  if (values.root === undefined) throw new CliError('give --root DIR, the directory to serve (see --help)', 2);
  const root = directoryFlag(values.root, '--root');
  const target = listenTargetFromFlags(values, DEFAULT_SOCKET, 'read and write the served directory');
  const maxFileSize = values['max-file-size'] === undefined ? DEFAULT_MAX_FILE_SIZE : parseSize(values['max-file-size']);
  const user = parseUser(values.user);
  const server = createFileServer({ root, ...target, maxFileSize, log: logLine });
  let bound;
  try {
    bound = await server.listen();
  } catch (err) {
    throw listenFailure(err, target);
  }
  if (user !== undefined) becomeUser(user);
  const where = describeListening(bound, 'read and write access to the served directory');
  logLine(`file server on ${where}: ${root}${user === undefined ? '' : ` as ${user.name}`}, files up to ${maxFileSize} bytes`);
  process.stdout.write(`LISTENING ${where}\n`);
  const stop = (signal: NodeJS.Signals): void => {
    logLine(`${signal}: closing the file server (${server.active} transfer(s) in progress)`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
