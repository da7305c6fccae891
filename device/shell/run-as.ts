/**
 * Starting shells as another, unprivileged account (`shell-server --user NAME`). The account is
 * read from the system's user database (getent, so NSS sources count too). Shells start through
 * util-linux `setpriv`, which sets the real and effective uid and gid and the account's
 * supplementary groups (initgroups) before it executes the shell, so the shell keeps none of the
 * server's groups. node-pty's own uid/gid options change the ids but leave the server's
 * supplementary groups in place (root's group among them), which is why they are not used.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export interface ShellUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export const SETPRIV = '/usr/bin/setpriv';

/** Looks an account up by name; throws an Error that says what is wrong. */
export function lookupUser(name: string): ShellUser {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}\$?$/.test(name)) throw new Error(`"${name}" is not a valid user name`);
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    throw new Error(`there is no user "${name}" on this machine`);
  }
  const [, , uid, gid, , home] = line.split(':');
  const u = Number(uid);
  const g = Number(gid);
  if (!Number.isInteger(u) || !Number.isInteger(g) || home === undefined) throw new Error(`cannot read the account "${name}" (getent printed "${line.slice(0, 80)}")`);
  return { name, uid: u, gid: g, home: home === '' ? '/' : home };
}

/** Checks that shells can be started as `user` by this process; throws an Error saying why not. */
export function checkCanRunAs(user: ShellUser): void {
  const self = process.getuid?.();
  if (self === user.uid) return;
  if (self !== 0) throw new Error(`starting shells as ${user.name} needs root (this process runs as uid ${String(self)})`);
  try {
    accessSync(SETPRIV, constants.X_OK);
  } catch {
    throw new Error(`starting shells as another user needs ${SETPRIV} (Debian package util-linux)`);
  }
}

/** The command line that runs `file args` as `user` with its own groups. */
export function commandAs(user: ShellUser, file: string, args: readonly string[]): { file: string; args: string[] } {
  return {
    file: SETPRIV,
    args: ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--', file, ...args],
  };
}

/** The environment a login as `user` would see for these variables (the rest is the server's choice). */
export function userEnv(user: ShellUser, shell: string): Record<string, string> {
  return { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: shell };
}
