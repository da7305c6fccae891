/**
 * When `npm start` (and the e2e setup) rebuild the device kit: `build-device.js --if-stale` asks
 * kitIsStale, here on a checkout and a kit directory of the test's own, with file times set.
 */
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SOURCES, kitIsStale } from '../scripts/build-device.js';
import { tempDir } from './harness.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

describe('kitIsStale (build-device.js --if-stale)', () => {
  let root: string;
  let out: string;
  const dirs = (): { root: string; out: string } => ({ root, out });
  /** A file of the checkout or the kit directory, with its modification time. */
  const file = (path: string, when: Date, text = 'x'): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    utimesSync(path, when, when);
  };
  /** A kit.json naming a tarball for each of `arches` (written, unless `missing` names it), made at `when`. */
  const kit = (arches: string[], when: Date, missing: string[] = []): void => {
    const kits = Object.fromEntries(arches.map((a) => [a, { file: `devicestreams-device-0.1.0-linux-${a}.tar.gz`, sha256: '0'.repeat(64) }]));
    for (const a of arches) if (!missing.includes(a)) file(join(out, kits[a]?.file ?? ''), when);
    file(join(out, 'kit.json'), when, JSON.stringify({ version: '0.1.0', kits }));
  };

  beforeEach(() => {
    root = tempDir('ds-kit-root-');
    out = join(tempDir('ds-kit-out-'), 'device-kit');
    // Every source the kit is made of, an hour before the kit.
    for (const s of SOURCES) file(s.includes('.') ? join(root, s) : join(root, s, 'main.ts'), at(0));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(dirname(out), { recursive: true, force: true });
  });

  it('is stale with no kit built yet, and fresh once a kit newer than every source is there', () => {
    expect(kitIsStale(['x64'], dirs())).toBe(true);
    kit(['x64'], at(60));
    expect(kitIsStale(['x64'], dirs())).toBe(false);
  });

  it('is stale when a file under any source (a nested one too) changed after the kit was built', () => {
    kit(['x64'], at(60));
    for (const s of SOURCES) {
      const path = s.includes('.') ? join(root, s) : join(root, s, 'deep', 'er', 'module.ts');
      file(path, at(61));
      expect(kitIsStale(['x64'], dirs()), s).toBe(true);
      utimesSync(path, at(0), at(0));
      expect(kitIsStale(['x64'], dirs()), s).toBe(false);
    }
  });

  it('is not made stale by a .test.ts file or a node_modules folder under a source', () => {
    kit(['x64'], at(60));
    file(join(root, 'shared', 'frames.test.ts'), at(61));
    file(join(root, 'device', 'node_modules', 'dep', 'index.js'), at(61));
    expect(kitIsStale(['x64'], dirs())).toBe(false);
  });

  it('is stale when an architecture asked for was not built, or its tarball is gone', () => {
    kit(['x64'], at(60));
    expect(kitIsStale(['x64', 'arm64'], dirs())).toBe(true);
    kit(['x64', 'arm64'], at(60), ['arm64']);
    expect(kitIsStale(['x64'], dirs())).toBe(false);
    expect(kitIsStale(['arm64'], dirs())).toBe(true);
  });
});
