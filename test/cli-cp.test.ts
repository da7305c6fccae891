/**
 * `devicestreams cp` when the local side cannot take or give the file: a sentence that names the
 * path the user gave (never cp's temporary file, never a raw errno line), and nothing left behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, startAgent, startHub, stopAll, tempDir, type HubHandle } from './harness.js';

let hub: HubHandle;
/** Where the downloads go: every case below must leave it as it was. */
let local: string;
let readOnly: string | undefined;
const DEV = 'cp-errors-dev';

beforeAll(async () => {
  hub = await startHub();
  const root = tempDir('ds-cp-root-');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'README.md'), 'read me\n');
  const socket = join(tempDir('ds-cp-sock-'), 'files.sock');
  const files = spawnCli(['file-server', '--root', root, '--listen', `unix:${socket}`]);
  await files.waitFor(/LISTENING unix:/);
  await startAgent(hub, DEV, [`files=unix:${socket}`]);
  local = tempDir('ds-cp-local-');
  writeFileSync(join(local, 'afile.txt'), 'a file, not a directory\n');
  mkdirSync(join(local, 'dirs', 'README.md'), { recursive: true });
  readOnly = join(local, 'ro');
  mkdirSync(readOnly);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly]);
}, 60_000);

afterAll(async () => {
  if (readOnly !== undefined) spawnSync('umount', ['-l', readOnly]);
  await stopAll();
});

function cp(...args: string[]): { code: number | null; out: string; err: string } {
  return runCli(['cp', ...args], { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile });
}

/** Every entry under `dir`, recursively (a temporary file left behind would show here). */
function entries(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('devicestreams cp and the local file system', () => {
  it('a download into a directory that does not exist (LOCAL ending in /) says so naming that path, with no errno or temporary file in the message, and leaves nothing behind', () => {
    const before = entries(local);
    const r = cp(`${DEV}:sub/README.md`, join(local, 'nonexist-dir') + '/');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`devicestreams cp: ${local}/nonexist-dir/: no such directory here; create it first, or give a file name\n`);
    expect(entries(local)).toEqual(before);
  });

  it.each([
    ['a path through a regular file (ENOTDIR)', () => join(local, 'afile.txt', 'x.md'), 'a part of that path is not a directory here'],
    ['a directory of the file\'s name in the way (EISDIR)', () => join(local, 'dirs'), 'a directory of that name is in the way here; give another name, or that directory to keep the file\'s name'],
    ['a read-only file system (EROFS)', () => join(local, 'ro', 'x.md'), 'the file system there is read-only'],
    ['a directory that does not exist (ENOENT)', () => join(local, 'nodir', 'x.md'), 'its directory does not exist here'],
  ])('a download that cannot be written for %s says why in a sentence naming the user\'s path, and removes its temporary file', (_case, to, why) => {
    const before = entries(local);
    const target = to();
    const r = cp(`${DEV}:sub/README.md`, target);
    expect(r.code).toBe(1);
    // A directory given as LOCAL keeps the file's name: that is the path the sentence names.
    const named = target.endsWith('dirs') ? join(target, 'README.md') : target;
    expect(r.err).toBe(`devicestreams cp: cannot write ${named}: ${why}; nothing was written\n`);
    expect(r.err).not.toMatch(/ds-download|E[A-Z]{3,}:/);
    expect(entries(local)).toEqual(before);
  });

  it('a download that fails here ends its stream before the command exits, logged with why, in all of eight runs (none waits out a resume window)', async () => {
    const since = Date.now();
    for (let i = 0; i < 8; i++) expect(cp(`${DEV}:sub/README.md`, join(local, 'nodir', 'x.md')).code).toBe(1);
    // Read within 5 s of the last exit (the end report is a store write): a stream cut off by the
    // exit would stay open for its 120 s resume window.
    let streams = (await hub.service.listStreams({ deviceId: DEV, since, limit: 20 })).streams;
    for (const until = Date.now() + 5000; streams.some((s) => s.state !== 'ended') && Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      streams = (await hub.service.listStreams({ deviceId: DEV, since, limit: 20 })).streams;
    }
    expect(streams).toHaveLength(8);
    for (const s of streams) {
      expect(s, s.streamId).toMatchObject({ state: 'ended', closedBy: 'service', closeCode: 4011 });
      expect(s.reason).toMatch(/the copy failed here: cannot write .*nodir\/x\.md: its directory does not exist here/);
    }
  });

  it('an upload from a path through a regular file says so naming that path, without a raw errno', () => {
    const from = join(local, 'afile.txt', 'x.md');
    const r = cp(from, `${DEV}:x.md`);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`devicestreams cp: ${from}: a part of that path is not a directory here; check the local path\n`);
  });
});
