/** Secrets the hub keeps in its data directory (mode 0600). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
