#!/usr/bin/env node
// `npm run build:device`: the device kit — the agent, the shell server and the file server bundled
// by esbuild into one CommonJS file, with node-pty's prebuilt files beside it (a native addon
// cannot be bundled) — as dist/device-kit/devicestreams-device-VERSION-linux-ARCH.tar.gz with its
// SHA-256 in a .sha256 file and in kit.json, which the hub reads to serve it.
//   --if-stale          build only when the kit is missing or older than its sources (npm start)
//   --arch x64,arm64    the Linux architectures to build for (or all; default: this machine's and
//                       those already built); another architecture's node-pty addon comes from npm
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist', 'device-kit');
/** What the bundle is made of: a change under any of these makes the kit stale. */
export const SOURCES = ['device', 'cli', 'shared', 'scripts/build-device.js', 'package.json'];
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

/** The Linux architectures @lydell/node-pty has prebuilt addons for (Node's names). */
export const ARCHES = ['x64', 'arm64'];

function readKitJson(out = OUT) {
  const stamp = join(out, 'kit.json');
  return existsSync(stamp) ? JSON.parse(readFileSync(stamp, 'utf8')) : undefined;
}

/** The architectures the current kit.json has (none when there is none). */
function builtArches() {
  return Object.keys(readKitJson()?.kits ?? {});
}

/**
 * True when the kit of any of `arches` is missing, or kit.json is older than a source of the kit
 * (`.test.ts` files and node_modules aside). `dirs`: the checkout and the kit directory (a test's own).
 */
export function kitIsStale(arches = [process.arch], dirs = { root: ROOT, out: OUT }) {
  const kit = readKitJson(dirs.out);
  if (kit === undefined) return true;
  if (arches.some((a) => kit.kits?.[a] === undefined || !existsSync(join(dirs.out, kit.kits[a].file)))) return true;
  const built = statSync(join(dirs.out, 'kit.json')).mtimeMs;
  return SOURCES.some((s) => newestMtime(join(dirs.root, s)) > built);
}

/**
 * The directory of @lydell/node-pty-linux-ARCH: this checkout's when npm installed it (this
 * machine's architecture), otherwise the registry's package fetched once with `npm pack` into
 * dist/device-kit/.cache (unpacked aside and renamed into place, so two builds can race).
 */
function ptyAddon(arch) {
  const pkg = `node-pty-linux-${arch}`;
  const installed = join(ROOT, 'node_modules', '@lydell', pkg);
  if (existsSync(join(installed, 'pty.node'))) return installed;
  const { optionalDependencies } = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@lydell', 'node-pty', 'package.json'), 'utf8'));
  const version = optionalDependencies?.[`@lydell/${pkg}`];
  if (version === undefined) throw new Error(`@lydell/node-pty has no prebuilt addon for linux-${arch}`);
  const cached = join(OUT, '.cache', `${pkg}-${version}`);
  if (existsSync(join(cached, 'pty.node'))) return cached;
  mkdirSync(join(OUT, '.cache'), { recursive: true });
  const tmp = mkdtempSync(join(OUT, '.cache', '.fetch-'));
  try {
    const tgz = execFileSync('npm', ['pack', `@lydell/${pkg}@${version}`, '--silent', '--pack-destination', tmp], { cwd: tmp, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp]);
    try {
      renameSync(join(tmp, 'package'), cached);
    } catch (err) {
      if (!existsSync(join(cached, 'pty.node'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return cached;
}

/**
 * Builds a kit for each architecture in `arches` (default: those kit.json has, and this machine's):
 * one bundle, and per architecture its node-pty addon, packed with owner and times fixed so a
 * tarball depends on its content only.
 */
export async function buildDeviceKit({ arches = [...new Set([process.arch, ...builtArches()])], log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const started = Date.now();
  for (const a of arches) if (!ARCHES.includes(a)) throw new Error(`no device kit for linux-${a}: kits exist for ${ARCHES.join(', ')}`);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  // A stage of its own and renames at the end, so builds that overlap (npm start and tests) never
  // see each other's half-written files.
  mkdirSync(OUT, { recursive: true });
  const stageRoot = mkdtempSync(join(OUT, '.stage-'));
  try {
    const bundle = await bundleInto(join(stageRoot, 'devicestreams-device.cjs'), version);
    const kits = {};
    for (const arch of arches) kits[arch] = packKit(stageRoot, bundle, version, arch);
    // The local architecture's kit is kit.json's `file` (what runs on this machine).
    const main = kits[process.arch] ?? kits[arches[0]];
    writeFileSync(join(stageRoot, 'kit.json'), `${JSON.stringify({ version, minNode: MIN_NODE, ...main, kits }, null, 2)}\n`);
    // Tarballs and checksums first, kit.json (which the hub reads to find them) last.
    const keep = new Set();
    for (const k of Object.values(kits)) {
      for (const f of [k.file, `${k.file}.sha256`]) {
        renameSync(join(stageRoot, f), join(OUT, f));
        keep.add(f);
      }
    }
    renameSync(join(stageRoot, 'kit.json'), join(OUT, 'kit.json'));
    // Older kits go: the hub serves what kit.json names.
    for (const e of readdirSync(OUT)) if (e.startsWith('devicestreams-device-') && !keep.has(e)) rmSync(join(OUT, e), { force: true });
    for (const k of Object.values(kits)) log(`device kit ${k.file}: ${(k.size / 1024).toFixed(0)} KiB (${(k.unpackedSize / 1024).toFixed(0)} KiB unpacked)`);
    log(`built in ${Date.now() - started} ms`);
    return { version, kits };
  } finally {
    rmSync(stageRoot, { recursive: true, force: true });
  }
}

/** Bundles the kit's entry point into `outfile`; checks it requires nothing the kit does not ship. */
async function bundleInto(outfile, version) {
  const result = await build({
    entryPoints: [join(ROOT, 'device', 'kit', 'main.ts')],
    outfile,
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
  // Anything but Node's own modules and the externals would be looked up in a node_modules the
  // device does not have.
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  for (const out of Object.values(result.metafile.outputs)) {
    for (const imp of out.imports) {
      if (!builtins.has(imp.path) && !EXTERNAL.includes(imp.path)) throw new Error(`the device bundle requires "${imp.path}", which the kit does not ship`);
    }
  }
  return outfile;
}

/** Stages and packs the kit for `arch` in `stageRoot`; returns what kit.json says of it. */
function packKit(stageRoot, bundle, version, arch) {
  const name = `devicestreams-device-${version}-linux-${arch}`;
  const stage = join(stageRoot, name);
  mkdirSync(join(stage, 'bin'), { recursive: true });
  mkdirSync(join(stage, 'lib'));
  cpSync(bundle, join(stage, 'lib', 'devicestreams-device.cjs'));
  writeFileSync(join(stage, 'bin', 'devicestreams-device'), readFileSync(join(ROOT, 'device', 'kit', 'launcher.cjs'), 'utf8').replace('__MIN_NODE__', MIN_NODE));
  chmodSync(join(stage, 'bin', 'devicestreams-device'), 0o755);
  // node-pty's JavaScript and the architecture's prebuilt addon (N-API: one build serves every Node).
  const noDocs = (src) => !src.endsWith('.d.ts') && !src.endsWith('.md');
  cpSync(join(ROOT, 'node_modules', '@lydell', 'node-pty'), join(stage, 'node_modules', '@lydell', 'node-pty'), { recursive: true, filter: noDocs });
  cpSync(ptyAddon(arch), join(stage, 'node_modules', '@lydell', `node-pty-linux-${arch}`), { recursive: true, filter: noDocs });
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
  execFileSync('tar', ['-czf', join(stageRoot, file), '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=@0', '-C', stageRoot, name]);
  const sha256 = createHash('sha256').update(readFileSync(join(stageRoot, file))).digest('hex');
  writeFileSync(join(stageRoot, `${file}.sha256`), `${sha256}  ${file}\n`);
  const unpackedSize = Number(execFileSync('du', ['-sb', stage], { encoding: 'utf8' }).split('\t')[0]);
  return { arch, file, sha256, size: statSync(join(stageRoot, file)).size, unpackedSize };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, arch: { type: 'string' } } });
  const arches = values.arch === undefined ? undefined : values.arch === 'all' ? ARCHES : values.arch.split(',').map((a) => a.trim());
  if (values['if-stale'] === true && !kitIsStale(arches)) process.exit(0);
  await buildDeviceKit(arches === undefined ? {} : { arches });
}
