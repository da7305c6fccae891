/** Secrets the hub keeps in its data directory (mode 0600). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretRepository } from './store/store.js';

/** Reads (making on first use) a random secret of `bytes` bytes stored as `<dataDir>/secrets/<name>`. */
export function loadOrCreateSecret(dataDir: string, name: string, bytes = 32): Buffer {
  const dir = join(dataDir, 'secrets');
  const path = join(dir, name);
  if (existsSync(path)) {
    const value = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (value.length >= 16) return value;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = randomBytes(bytes);
  writeFileSync(path, value.toString('base64') + '\n', { mode: 0o600 });
  return value;
}

/** Deletes every secret in `<dataDir>/secrets` whose name starts with `prefix`, except `keep`; returns how many. */
export function removeSecretsExcept(dataDir: string, prefix: string, keep: string): number {
  const dir = join(dataDir, 'secrets');
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || name === keep) continue;
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
    removeOthers: (prefix, keep) => new Promise((resolve) => resolve(removeSecretsExcept(dataDir, prefix, keep))),
  };
}
