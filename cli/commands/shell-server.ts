/** `devicestreams shell-server` — terminals for the web console, served on the device. */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createShellServer } from '../../device/shell-server.js';
import { CliError, logLine, numberFlag, parse, parseHostPort } from '../args.js';

const HELP = `
Usage: devicestreams shell-server [--listen HOST:PORT] [options]

Runs on the device. Every TCP connection gets its own shell on its own PTY and speaks the
DeviceStreams terminal protocol (HELLO first; then keystrokes, resizes and PAUSE/RESUME in,
output out; EXIT with the shell's status at the end). Map a stream name to it on the agent and
the web console opens a terminal through that stream. It has no authentication of its own (the
hub authorises the stream), so keep it on a loopback address.

Options:
  --listen HOST:PORT   address to listen on (default 127.0.0.1:4022; port 0 picks a free one,
                       the bound address is printed as "LISTENING HOST:PORT")
  --shell PATH         program to start for each session (default $SHELL, else /bin/bash)
  --shell-arg=ARG      an argument for that program (repeatable), e.g. --shell-arg=--norc
  --cwd DIR            its working directory (default the directory this command runs in)
  --env NAME=VALUE     add or override a variable in its environment (repeatable); it also
                       inherits this command's environment, and TERM comes from the client
  --max-sessions N     refuse connections beyond N at once (default 32)
  -h, --help           this help

Example:
  devicestreams shell-server --listen 127.0.0.1:4022 --cwd /srv --env LANG=C.UTF-8
  devicestreams agent --connection-string "$DEVICE_CONNECTION_STRING" --ca hub-ca.pem \\
    --map shell=127.0.0.1:4022
`;

const ENV_PATTERN = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

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

function checkDir(dir: string): string {
  const abs = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDir) throw new CliError(`--cwd ${dir} is not a directory`, 2);
  return abs;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    listen: { type: 'string' },
    shell: { type: 'string' },
    'shell-arg': { type: 'string', multiple: true },
    cwd: { type: 'string' },
    env: { type: 'string', multiple: true },
    'max-sessions': { type: 'string' },
  }, HELP);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  const listen = values.listen ?? '127.0.0.1:4022';
  const { host, port } = parseHostPort(listen, '--listen');
  const shell = values.shell ?? (process.env.SHELL !== undefined && process.env.SHELL !== '' ? process.env.SHELL : '/bin/bash');
  checkShell(shell);
  const cwd = values.cwd === undefined ? process.cwd() : checkDir(values.cwd);
  const maxSessions = numberFlag(values['max-sessions'], '--max-sessions', 32, 1, 1024);
  if (!Number.isInteger(maxSessions)) throw new CliError('--max-sessions must be a whole number', 2);
  const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));

  const server = createShellServer({ host, port, shell, args: values['shell-arg'] ?? [], cwd, env: { ...inherited, ...parseEnv(values.env ?? []) }, maxSessions, log: logLine });
  try {
    await server.listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`${listen} is in use; pick another --listen port`);
    if (code === 'EADDRNOTAVAIL') throw new CliError(`${host} is not an address of this machine; check --listen`);
    throw err;
  }
  const bound = server.address();
  if (!LOOPBACK.test(bound.address)) logLine(`warning: listening on ${bound.address}, not loopback: anyone who can reach it gets a shell`);
  logLine(`shell server on ${bound.address}:${bound.port}: ${shell} in ${cwd}, at most ${maxSessions} sessions`);
  process.stdout.write(`LISTENING ${bound.address}:${bound.port}\n`);
  const stop = (signal: NodeJS.Signals): void => {
    logLine(`${signal}: closing the shell server and hanging up ${server.sessions} session(s)`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
