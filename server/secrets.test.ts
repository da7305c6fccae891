import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecret, removeNumberedBefore } from './secrets.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ds-secrets-'));
  dirs.push(d);
  return d;
}

describe('loadOrCreateSecret', () => {
  it('makes a private secret once and reads the same one back, leaving no temporary file', () => {
    const dir = dataDir();
    const a = loadOrCreateSecret(dir, 'k', 32);
    expect(a.length).toBe(32);
    expect(loadOrCreateSecret(dir, 'k', 32).equals(a)).toBe(true);
    expect(statSync(join(dir, 'secrets', 'k')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'secrets'))).toEqual(['k']);
  });

  it('replaces a file too short to be a secret', () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'k'), 'c2hvcnQ=\n');
    const v = loadOrCreateSecret(dir, 'k', 32);
    expect(v.length).toBe(32);
    expect(loadOrCreateSecret(dir, 'k', 32).equals(v)).toBe(true);
  });

  it('gives every one of several processes making the same secret at once the same bytes', () => {
    const dir = dataDir();
    // Eight processes, loaded first, then each sleeping to the same instant before it asks; each
    // prints what it got (base64).
    const at = Date.now() + 4000;
    const script = [
      `import { loadOrCreateSecret } from ${JSON.stringify(join(import.meta.dirname, 'secrets.ts'))};`,
      `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ${at} - Date.now()));`,
      `process.stdout.write(loadOrCreateSecret(process.argv[1], 'race', 48).toString('base64') + ' ');`,
    ].join('\n');
    const runs = Array.from({ length: 8 }, () => `node --import tsx --input-type=module -e "$S" "$D" & `).join('');
    const out = execFileSync('bash', ['-c', `${runs} wait`], { env: { ...process.env, S: script, D: dir }, encoding: 'utf8', cwd: join(import.meta.dirname, '..') });
    const values = out.match(/[A-Za-z0-9+/]{64}/g) ?? [];
    expect(values.length).toBe(8);
    expect(new Set(values).size).toBe(1);
    expect(readdirSync(join(dir, 'secrets'))).toEqual(['race']);
  });

  it('deletes the numbered secrets below a number with the temporary files a dead process left of them, and nothing else', () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    for (const name of ['tk.5', 'tk.5.123-ab12.tmp', 'tk.6', 'tk.9', 'tk.9.7-cd34.tmp', 'tk.x', 'other.1']) writeFileSync(join(dir, 'secrets', name), 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n');
    expect(removeNumberedBefore(dir, 'tk.', 7)).toBe(3);
    expect(readdirSync(join(dir, 'secrets')).sort()).toEqual(['other.1', 'tk.9', 'tk.9.7-cd34.tmp', 'tk.x']);
  });
});
