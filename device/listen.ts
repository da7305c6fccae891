/**
 * Where the device's own servers (shell server, file server) listen. They have no authentication
 * of their own — the hub authorises each stream — so only the agent may reach them: by default a
 * Unix socket only this process's user can reach: its directory is created with mode 0700, or,
 * when it exists, must belong to this user and let nobody else in; the socket itself is 0600. A
 * socket file left by a server that died is replaced; a live one is not (the path is in use). TCP
 * is there for callers that asked for it in so many words.
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, type AddressInfo, type Server } from 'node:net';
import { dirname } from 'node:path';

/** Where a server listens: a TCP address, or the path of its Unix socket. */
export type ListenAddress = AddressInfo | { path: string };

/** Where to listen: a private Unix socket (wins when given), else TCP host and port. */
export interface ListenTarget {
  socketPath?: string | undefined;
  host: string;
  port: number;
}

/** True for a Unix socket address. */
export function isSocketAddress(a: ListenAddress): a is { path: string } {
  return 'path' in a && typeof a.path === 'string';
}

/** Why a socket directory is not private, or undefined when it is. */
function privacyProblem(dir: string): string | undefined {
  const st = statSync(dir);
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const self = process.getuid?.();
  if (self !== undefined && st.uid !== self) return `${dir} belongs to uid ${st.uid}, not to this user (uid ${self})`;
  if ((st.mode & 0o077) !== 0) return `${dir} has mode ${(st.mode & 0o777).toString(8)}: other users could reach the socket (chmod 700 ${dir})`;
  return undefined;
}

/** Resolves true when something answers on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes the socket's directory (0700) if needed and listens on `path`; throws an Error saying what
 * is wrong. `what` names the server in that message ("a running shell server").
 */
export async function listenOnPrivateSocket(server: Server, path: string, what: string): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const problem = privacyProblem(dir);
  if (problem !== undefined) throw new Error(`refusing to listen on ${path}: ${problem}`);
  let existing;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new Error(`refusing to listen on ${path}: a file that is not a socket is in the way`);
    if (await answers(path)) throw new Error(`${path} is in use by a running ${what}`);
    unlinkSync(path);
  }
  await listenOnce(server, path);
  chmodSync(path, 0o600);
}

function listenOnce(server: Server, where: string | { port: number; host: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      server.removeListener('error', reject);
      resolve();
    };
    server.once('error', reject);
    if (typeof where === 'string') server.listen(where, done);
    else server.listen(where.port, where.host, done);
  });
}

/**
 * Listens where `target` says (a private socket, or TCP), then logs later server errors through
 * `log`; resolves with the bound address. `what` names the server in messages.
 */
export async function listenAt(server: Server, target: ListenTarget, what: string, log: (line: string) => void): Promise<ListenAddress> {
  if (target.socketPath !== undefined) await listenOnPrivateSocket(server, target.socketPath, what);
  else await listenOnce(server, { port: target.port, host: target.host });
  server.on('error', (err) => log(`${what}: ${err.message}`));
  return boundAddress(server, target, what);
}

/** The address `server` is bound to (throws when it is not listening). */
export function boundAddress(server: Server, target: ListenTarget, what: string): ListenAddress {
  if (target.socketPath !== undefined && server.listening) return { path: target.socketPath };
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error(`the ${what} is not listening`);
  return a;
}
