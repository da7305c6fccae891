/**
 * A Unix socket only this process's user can reach: its directory is created with mode 0700, or,
 * when it exists, must belong to this user and let nobody else in; the socket itself is 0600. A
 * socket file left by a server that died is replaced; a live one is not (the path is in use).
 */
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';

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

/** Makes the socket's directory (0700) if needed and listens on `path`; throws an Error saying what is wrong. */
export async function listenOnPrivateSocket(server: Server, path: string): Promise<void> {
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
    if (await answers(path)) throw new Error(`${path} is in use by a running shell server`);
    unlinkSync(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
}
