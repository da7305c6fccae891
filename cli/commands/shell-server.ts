/** `devicestreams shell-server` — terminals for the web console, served on the device. */
import { accessSync, constants, statSync } from 'node:fs';
import { MAX_DETACH_TIMEOUT_MS, MAX_REPLAY_BUFFER_BYTES, MIN_REPLAY_BUFFER_BYTES, createShellServer, type ShellServerAddress } from '../../device/shell-server.js';
import { checkCanRunAs, lookupUser, type ShellUser } from '../../device/shell/run-as.js';

/** Where the shell server listens unless told otherwise. */
export const DEFAULT_SOCKET = '/run/devicestreams/shell.sock';
import { CliError, directoryFlag, logLine, numberFlag, parse } from '../args.js';
import { LISTEN_FLAGS, describeListening, listenFailure, listenTargetFromFlags } from '../listen-flags.js';
import { keepServingWithoutStdout } from '../outputs.js';

const HELP = `
Usage: devicestreams shell-server [--listen unix:PATH] [options]

Runs on the device. Every connection gets its own shell on its own PTY and speaks the
DeviceStreams terminal protocol (HELLO first; then keystrokes, resizes and PAUSE/RESUME in,
output out; EXIT with the shell's status at the end). Map a stream name to it on the agent and
the web console opens a terminal through that stream. When the console's connection drops (a
reload, a network loss, a sleeping laptop), the shell keeps running for --detach-timeout and
the console reattaches to it, with what it printed meanwhile.

It has no authentication of its own (the hub authorises the stream), so only the agent may reach
it: it listens on a Unix socket in a directory that only its own user can enter (created 0700;
an existing one must be private). Run the agent as the same user (or root).

Options:
  --listen unix:PATH   the socket to listen on (default ${DEFAULT_SOCKET}); the agent maps
                       it with --map shell=unix:PATH
  --listen HOST:PORT   TCP instead, only together with --insecure-tcp: any local user who can
                       connect gets a shell, outside the stream log (port 0 picks a free one)
  --insecure-tcp       allow --listen HOST:PORT (test rigs, containers with nobody else in them)
  --user NAME          start shells as this account (its uid, gid and groups, HOME, USER,
                       LOGNAME; working directory its home unless --cwd); needs root
  --shell PATH         program to start for each session (default $SHELL, else /bin/bash)
  --shell-arg=ARG      an argument for that program (repeatable), e.g. --shell-arg=--norc
  --cwd DIR            its working directory (default this command's, or the --user's home)
  --env NAME=VALUE     add or override a variable in its environment (repeatable); it also
                       inherits this command's environment, and TERM comes from the client
  --max-sessions N     at most N shells at once, detached ones included (default 32); a new
                       session beyond it ends the one detached longest, or is refused
  --detach-timeout SECS
                       keep a console session's shell this long after its connection drops,
                       so the console can reattach to it (default 600; 0 ends every session
                       with its connection; at most ${MAX_DETACH_TIMEOUT_MS / 1000})
  --replay-buffer-kib N
                       recent output each such session keeps for the console to replay when
                       it comes back (default 1024; ${MIN_REPLAY_BUFFER_BYTES / 1024} to ${MAX_REPLAY_BUFFER_BYTES / 1024})
  -h, --help           this help

Prints "LISTENING unix:PATH" (or "LISTENING HOST:PORT") once it accepts connections.

Example:
  devicestreams shell-server --user pi --env LANG=C.UTF-8
  devicestreams agent --ca hub-ca.pem \\
    --map shell=unix:${DEFAULT_SOCKET}
`;

const ENV_PATTERN = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const m = ENV_PATTERN.exec(pair);
    if (m === null) throw new CliError(`--env "${pair}" must look like NAME=VALUE (for example LANG=C.UTF-8)`, 2);
    env[m[1] as string] = m[2] as string;
  }
  return env;
}

function checkShell(shell: string): void {
  // A bare name is looked up in PATH when the session starts; a path can be checked now.
  if (!shell.includes('/')) return;
  try {
    accessSync(shell, constants.X_OK);
  } catch {
    throw new CliError(`--shell ${shell} is not an executable file`, 2);
  }
}

/** The account's home when it is a directory (service accounts often have none), else `fallback`. */
function homeOr(home: string, fallback: string): string {
  try {
    if (statSync(home).isDirectory()) return home;
  } catch {
    // Reported below.
  }
  logLine(`note: the home directory ${home} does not exist; shells start in ${fallback}`);
  return fallback;
}

function parseUser(name: string | undefined): ShellUser | undefined {
  if (name === undefined) return undefined;
  try {
    const user = lookupUser(name);
    checkCanRunAs(user);
    return user;
  } catch (err) {
    throw new CliError(`--user ${name}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}

export async function run(argv: string[]): Promise<void> {
  keepServingWithoutStdout();
  const { values, positionals } = parse(argv, {
    ...LISTEN_FLAGS,
    user: { type: 'string' },
    shell: { type: 'string' },
    'shell-arg': { type: 'string', multiple: true },
    cwd: { type: 'string' },
    env: { type: 'string', multiple: true },
    'max-sessions': { type: 'string' },
    'detach-timeout': { type: 'string' },
    'replay-buffer-kib': { type: 'string' },
  }, HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  const target = listenTargetFromFlags(values, DEFAULT_SOCKET, 'open a shell');
  const user = parseUser(values.user);
  const shell = values.shell ?? (process.env.SHELL !== undefined && process.env.SHELL !== '' ? process.env.SHELL : '/bin/bash');
  checkShell(shell);
  const cwd = values.cwd !== undefined ? directoryFlag(values.cwd, '--cwd') : user !== undefined ? homeOr(user.home, '/') : process.cwd();
  const maxSessions = numberFlag(values['max-sessions'], '--max-sessions', 32, 1, 1024);
  if (!Number.isInteger(maxSessions)) throw new CliError('--max-sessions must be a whole number', 2);
  const detachSeconds = numberFlag(values['detach-timeout'], '--detach-timeout', 600, 0, MAX_DETACH_TIMEOUT_MS / 1000);
  if (!Number.isInteger(detachSeconds)) throw new CliError('--detach-timeout must be a whole number of seconds', 2);
  const replayKib = numberFlag(values['replay-buffer-kib'], '--replay-buffer-kib', 1024, MIN_REPLAY_BUFFER_BYTES / 1024, MAX_REPLAY_BUFFER_BYTES / 1024);
  if (!Number.isInteger(replayKib)) throw new CliError('--replay-buffer-kib must be a whole number', 2);
  const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));

  const server = createShellServer({
    ...(target.socketPath === undefined ? { host: target.host, port: target.port } : { socketPath: target.socketPath }),
    shell, args: values['shell-arg'] ?? [], cwd, env: { ...inherited, ...parseEnv(values.env ?? []) }, maxSessions, log: logLine,
    detachTimeoutMs: detachSeconds * 1000, replayBufferBytes: replayKib * 1024,
    ...(user === undefined ? {} : { user }),
  });
  let bound: ShellServerAddress;
  try {
    bound = await server.listen();
  } catch (err) {
    throw listenFailure(err, target);
  }
  const where = describeListening(bound, 'a shell');
  const resume = detachSeconds === 0 ? 'sessions end with their connection' : `sessions kept ${detachSeconds} s after their connection drops, with ${replayKib} KiB of output each`;
  logLine(`shell server on ${where}: ${shell}${user === undefined ? '' : ` as ${user.name}`} in ${cwd}, at most ${maxSessions} sessions, ${resume}`);
  process.stdout.write(`LISTENING ${where}\n`);
  const stop = (signal: NodeJS.Signals): void => {
    logLine(`${signal}: closing the shell server and hanging up ${server.sessions} session(s)`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
