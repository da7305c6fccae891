/**
 * The data directory holds every secret of the hub (the SQLite store with the iothubowner key,
 * policy and device keys and operator password hashes, the stream-token secret, the TLS key), so
 * nobody but the account that runs the hub may read it: the directory is 0700 and its files 0600.
 * At start an existing directory that other local users could read is fixed, and said so in the
 * log; files the hub creates later get these modes from the start.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** The directories below the data directory whose files are secret too. */
const SECRET_SUBDIRS = ['secrets', 'tls'];

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Tightens `path` to `mode` when group or others have any access; returns a log line when it did. */
function tighten(path: string, st: Stats, mode: number): string | undefined {
  if ((st.mode & 0o077) === 0) return undefined;
  chmodSync(path, mode);
  return `${path} was mode ${(st.mode & 0o777).toString(8)} (other local users could read it); set to ${mode.toString(8)}`;
}

/**
 * Creates the data directory (0700) or makes an existing one private: the directory and its
 * secret subdirectories 0700, the files in them 0600, the recordings directory 0700. Symbolic links
 * are left alone. Returns what it changed, one line each.
 */
export function secureDataDir(dataDir: string): string[] {
  mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
  const changed: string[] = [];
  const visit = (dir: string, filesToo: boolean): void => {
    const st = statOrUndefined(dir);
    if (st === undefined || !st.isDirectory()) return;
    const line = tighten(dir, st, DIR_MODE);
    if (line !== undefined) changed.push(line);
    if (!filesToo) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const fst = statOrUndefined(path);
      if (fst?.isFile() !== true) continue;
      const fline = tighten(path, fst, FILE_MODE);
      if (fline !== undefined) changed.push(fline);
    }
  };
  visit(dataDir, true);
  for (const sub of SECRET_SUBDIRS) visit(join(dataDir, sub), true);
  visit(join(dataDir, 'recordings'), false);
  return changed;
}

/**
 * Creates `path` empty with mode 0600 if it does not exist. SQLite gives its -wal and -shm files
 * the mode of the database file, so creating `hub.db` this way keeps all three private.
 */
export function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
