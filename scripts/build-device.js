#!/usr/bin/env node
// `npm run build:device`: the device kit — the agent, the shell server and the file server bundled
// by esbuild into one CommonJS file, with node-pty's prebuilt files beside it (a native addon
// cannot be bundled) — as dist/device-kit/devicestreams-device-VERSION-linux-ARCH.tar.gz with its
// SHA-256 in a .sha256 file and in kit.json, which the hub reads to serve it.
//   --if-stale   build only when the kit is missing or older than its sources (npm start)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist', 'device-kit');
/** What the bundle is made of: a change under any of these makes the kit stale. */
const SOURCES = ['device', 'cli', 'shared', 'scripts/build-device.js', 'package.json'];
/** The oldest Node the kit runs on (checked by its launcher, declared in its package.json). */
export const MIN_NODE = '18.19';
/**
 * Left out of the bundle. node-pty is a native addon and ships next to it; the others are optional
 * (each required inside a try/catch that does without it): ws's bufferutil and utf-8-validate,
 * debug's supports-color (under https-proxy-agent), and kerberos (only for a Negotiate proxy).
 */
export const EXTERNAL = ['@lydell/node-pty', 'bufferutil', 'utf-8-validate', 'supports-color', 'kerberos'];

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) {
    if (e === 'node_modules' || e.endsWith('.test.ts')) continue;
    newest = Math.max(newest, newestMtime(join(path, e)));
  }
  return newest;
}

/** True when dist/device-kit/kit.json is missing or older than a source of the kit. */
export function kitIsStale() {
  const stamp = join(OUT, 'kit.json');
  if (!existsSync(stamp)) return true;
  const kit = JSON.parse(readFileSync(stamp, 'utf8'));
  if (!existsSync(join(OUT, kit.file))) return true;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.some((s) => newestMtime(join(ROOT, s)) > built);
}

export async function buildDeviceKit({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const started = Date.now();
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const arch = process.arch;
  const name = `devicestreams-device-${version}-linux-${arch}`;
  // A stage of its own and renames at the end, so builds that overlap (npm start and tests) never
  // see each other's half-written files.
  mkdirSync(OUT, { recursive: true });
  const stageRoot = mkdtempSync(join(OUT, '.stage-'));
  try {
    return await buildIn(stageRoot, { version, arch, name, started, log });
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
}

async function buildIn(stageRoot, { version, arch, name, started, log }) {
  const stage = join(stageRoot, name);
  mkdirSync(join(stage, 'bin'), { recursive: true });

  const result = await build({
    entryPoints: [join(ROOT, 'device', 'kit', 'main.ts')],
    outfile: join(stage, 'lib', 'devicestreams-device.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${MIN_NODE.split('.')[0]}`,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    external: EXTERNAL,
    define: { KIT_VERSION: JSON.stringify(version) },
    metafile: true,
    logLevel: 'warning',
  });
  // The bundle may require only Node's own modules and the externals above: anything else would
  // be looked up in a node_modules the device does not have.
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  for (const out of Object.values(result.metafile.outputs)) {
    for (const imp of out.imports) {
      if (!builtins.has(imp.path) && !EXTERNAL.includes(imp.path)) throw new Error(`the device bundle requires "${imp.path}", which the kit does not ship`);
    }
  }

  writeFileSync(join(stage, 'bin', 'devicestreams-device'), readFileSync(join(ROOT, 'device', 'kit', 'launcher.cjs'), 'utf8').replace('__MIN_NODE__', MIN_NODE));
  chmodSync(join(stage, 'bin', 'devicestreams-device'), 0o755);
  // node-pty's JavaScript and this platform's prebuilt addon (N-API, so one build serves every Node).
  const nm = join(ROOT, 'node_modules', '@lydell');
  for (const pkg of ['node-pty', `node-pty-linux-${arch}`]) {
    if (!existsSync(join(nm, pkg))) throw new Error(`node_modules/@lydell/${pkg} is missing (run npm install on linux-${arch})`);
    cpSync(join(nm, pkg), join(stage, 'node_modules', '@lydell', pkg), { recursive: true, filter: (src) => !src.endsWith('.d.ts') && !src.endsWith('.md') });
  }
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify({
    name: 'devicestreams-device',
    version,
    description: 'DeviceStreams device kit: agent, shell server and file server',
    license: 'MIT',
    private: true,
    engines: { node: `>=${MIN_NODE}` },
    bin: { 'devicestreams-device': 'bin/devicestreams-device' },
  }, null, 2)}\n`);

  const file = `${name}.tar.gz`;
  const tarball = join(OUT, file);
  const packed = join(stageRoot, file);
  // Owner and times fixed, so the tarball depends on its content only.
  execFileSync('tar', ['-czf', packed, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=@0', '-C', stageRoot, name]);
  const sha256 = createHash('sha256').update(readFileSync(packed)).digest('hex');
  const size = statSync(packed).size;
  const unpacked = Number(execFileSync('du', ['-sb', stage], { encoding: 'utf8' }).split('\t')[0]);
  writeFileSync(join(stageRoot, 'sha256'), `${sha256}  ${file}\n`);
  writeFileSync(join(stageRoot, 'kit.json'), `${JSON.stringify({ version, arch, file, sha256, size, unpackedSize: unpacked, minNode: MIN_NODE }, null, 2)}\n`);
  // The tarball and its checksum first, kit.json (which the hub reads to find them) last.
  renameSync(packed, tarball);
  renameSync(join(stageRoot, 'sha256'), `${tarball}.sha256`);
  renameSync(join(stageRoot, 'kit.json'), join(OUT, 'kit.json'));
  // Older kits' tarballs go: the hub serves the one kit.json names.
  for (const e of readdirSync(OUT)) {
    if (e.startsWith('devicestreams-device-') && e !== file && e !== `${file}.sha256`) rmSync(join(OUT, e), { force: true });
  }
  log(`device kit ${file}: ${(size / 1024).toFixed(0)} KiB (${(unpacked / 1024).toFixed(0)} KiB unpacked), built in ${Date.now() - started} ms`);
  return { file: tarball, sha256, version };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  if (process.argv.includes('--if-stale') && !kitIsStale()) process.exit(0);
  await buildDeviceKit();
}
