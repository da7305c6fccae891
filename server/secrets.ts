/** Secrets the hub keeps in its data directory (mode 0600). */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretRepository } from './store/store.js';

/** Reads (making on first use) a random secret of `bytes` bytes stored as `<dataDir>/secrets/<name>`. */
export function loadOrCreateSecret(dataDir: string, name: string, bytes = 32): Buffer {
  const dir = join(dataDir, 'secrets');
  const path = join(dir, name);
  const found = readSecret(path);
  if (Buffer.isBuffer(found)) return found;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = randomBytes(bytes);
  // Written whole under a name of its own, then put in place in one step: another process on the
  // same data directory (a hub and its separate streaming endpoint) reads nothing or all of it,
  // and when both make one at once, the first put in place is the one both keep.
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, value.toString('base64') + '\n', { mode: 0o600 });
    // A file that was there but too short to be a secret is replaced; nothing else is.
    if (found === 'short') renameSync(tmp, path);
    else linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const kept = readSecret(path);
  if (!Buffer.isBuffer(kept)) throw new Error(`the secret ${path} could not be made`);
  return kept;
}

/** The secret in `path`; 'missing' when there is none, 'short' when the file is too short to be one. */
function readSecret(path: string): Buffer | 'missing' | 'short' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  const value = Buffer.from(text.trim(), 'base64');
  return value.length >= 16 ? value : 'short';
}

/**
 * Deletes the secrets `<prefix><n>` in `<dataDir>/secrets` whose number n is below `before`
 * (numbered ones, such as the hourly TLS ticket keys), and any temporary file of theirs a process
 * that died while making one left behind; returns how many.
 */
export function removeNumberedBefore(dataDir: string, prefix: string, before: number): number {
  const dir = join(dataDir, 'secrets');
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d{1,15})(\.[\w-]+\.tmp)?$/.exec(name.slice(prefix.length));
    if (m === null || Number(m[1]) >= before) continue;
    rmSync(join(dir, name), { force: true });
    n += 1;
  }
  return n;
}

/** The data directory's secrets as the store's interface (a single hub's, or a node without a store). */
export function dataDirSecrets(dataDir: string): SecretRepository {
  return {
    // A failure of the file system is a rejection, as a store's would be.
    getOrCreate: (name, bytes) => new Promise((resolve) => resolve(loadOrCreateSecret(dataDir, name, bytes))),
    removeNumberedBefore: (prefix, before) => new Promise((resolve) => resolve(removeNumberedBefore(dataDir, prefix, before))),
  };
}
