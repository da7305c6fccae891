/**
 * The device kit (`npm run build:device`) installed as a device gets it: unpacked from its tarball
 * into a fresh directory with no access to this checkout's node_modules, run with `node` there.
 * Its agent, configured by a 0600 file, connects to a real hub and serves a shell (through the
 * kit's own shell server) and an echo service — on this Node and on the oldest the kit supports.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { builtinModules } from 'node:module';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, TERMINAL_PROTOCOL_VERSION, encodeFrame } from '../shared/terminal-protocol.js';
import { KIT_OUT, buildAndUnpackKit, oldestNode, OLDEST_NODE, type UnpackedKit } from './fixtures/device-kit.js';
import { ROOT, rssOf, sleep, spawnProc, startEchoServer, startHub, stopAll, tempDir, type HubHandle, type Proc } from './harness.js';

let kit: UnpackedKit;
let hub: HubHandle;
let echoPort: number;
let node18: string | undefined;
/** No NODE_PATH, so nothing but the kit's own directory can resolve a module. */
const isolated = { NODE_PATH: undefined, NODE_OPTIONS: undefined };

beforeAll(async () => {
  kit = buildAndUnpackKit();
  node18 = oldestNode();
  hub = await startHub();
  echoPort = (await startEchoServer()).port;
}, 240_000);

afterAll(stopAll);

/** GETs `url` trusting `ca`; the body and the kit's SHA-256 header. */
function download(url: string, ca: string): Promise<{ body: Buffer; sha256Header: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 16 * 1024 * 1024) req.destroy(new Error('larger than 16 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks), sha256Header: res.headers['x-devicestreams-sha256'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Runs the kit's command with `node` (this one unless given), cwd the kit's directory. */
function runKit(args: string[], node = process.execPath): Proc {
  return spawnProc(node, [kit.bin, ...args], isolated, 'SIGTERM', kit.dir);
}

/** Registers `deviceId` and writes an agent.json for it (mode `mode`); returns its path. */
async function writeConfig(deviceId: string, maps: string[], mode = 0o600): Promise<string> {
  await hub.service.createDevice(deviceId);
  const dir = tempDir('ds-kit-etc-');
  writeFileSync(join(dir, 'ca.pem'), hub.ca);
  const path = join(dir, 'agent.json');
  const connectionString = await hub.service.deviceConnectionString(deviceId);
  writeFileSync(path, JSON.stringify({ connectionString, ca: 'ca.pem', maps }), { mode });
  chmodSync(path, mode);
  return path;
}

function collect(s: Duplex): { text(): string; until(re: RegExp, ms?: number): Promise<string> } {
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('utf8')));
  return {
    text: () => text,
    async until(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; got ${JSON.stringify(text.slice(-500))}`);
        await sleep(20);
      }
      return text;
    },
  };
}

describe('the device kit', () => {
  it('is one bundle that requires only Node built-ins and the node-pty it ships (plus optional modules it does without)', () => {
    const bundle = readFileSync(join(kit.dir, 'lib', 'devicestreams-device.cjs'), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)|\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => (m[1] ?? m[2]) as string));
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const foreign = [...required].filter((r) => !builtins.has(r));
    expect(foreign.sort()).toEqual(['@lydell/node-pty', 'bufferutil', 'kerberos', 'supports-color', 'utf-8-validate']);
    // From the kit's directory only its own node-pty resolves: nothing of this checkout's node_modules.
    const resolve = (name: string): string => spawnSync(process.execPath, ['-e', `process.stdout.write(require.resolve(${JSON.stringify(name)}))`], { cwd: kit.dir, env: { ...process.env, ...isolated, NODE_PATH: '' }, encoding: 'utf8' }).stdout;
    expect(resolve('@lydell/node-pty')).toBe(join(kit.dir, 'node_modules', '@lydell', 'node-pty', 'index.js'));
    for (const name of ['ws', 'bufferutil', 'zod', 'tsx']) expect(resolve(name), name).toBe('');
    expect(JSON.parse(readFileSync(join(kit.dir, 'package.json'), 'utf8'))).toMatchObject({ name: 'devicestreams-device', version: kit.version, engines: { node: `>=${OLDEST_NODE.split('.').slice(0, 2).join('.')}` } });
    expect(execFileSync(process.execPath, [kit.bin, 'version'], { cwd: kit.dir, encoding: 'utf8' }).trim()).toBe(kit.version);
  });

  const nodes: Array<[string, () => string | undefined]> = [
    ['this Node', () => process.execPath],
    [`Node ${OLDEST_NODE}, the oldest it supports`, () => node18],
  ];
  it.each(nodes)('on %s: the agent reads its 0600 config, connects, and carries a shell and an echo service both ways', async (label, which) => {
    const node = which();
    expect(node, `${label} is available`).toBeDefined();
    const deviceId = `kit-dev-${label === 'this Node' ? 'current' : 'oldest'}`;
    const socket = join(tempDir('ds-kit-run-'), 'run', 'shell.sock');
    const shell = runKit(['shell-server', '--listen', `unix:${socket}`, '--shell', '/bin/bash', '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', 'PS1=kit$ '], node);
    await shell.waitFor(/LISTENING unix:/);
    const config = await writeConfig(deviceId, [`shell=unix:${socket}`, `echo=127.0.0.1:${echoPort}`]);
    const agent = runKit(['agent', '--config', config], node);
    await agent.waitFor(/connected to the hub/);
    expect(execFileSync('ps', ['-o', 'args=', '-p', String(agent.pid)], { encoding: 'utf8' })).not.toMatch(/SharedAccessKey/);
    if (label !== 'this Node') expect(execFileSync(node as string, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${OLDEST_NODE}`);

    // Echo: bytes out and back through the hub.
    const echo = await hub.service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 10 });
    const echoed = collect(echo);
    echo.write('ping through the kit\n');
    await echoed.until(/ping through the kit\n/);
    echo.end();

    // Shell: the terminal protocol through the kit's shell server.
    const term = await hub.service.initiateStream(deviceId, 'shell', { connectTimeoutSeconds: 10 });
    const decoder = new FrameDecoder();
    let screen = '';
    term.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) if (f.type === 'data') screen += Buffer.from(f.data).toString('utf8');
    });
    term.write(encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, term: 'xterm', cols: 80, rows: 24 }));
    term.write(encodeFrame({ type: 'data', data: new TextEncoder().encode('echo kit-$((6*7)) $(id -un)\r') }));
    const deadline = Date.now() + 10_000;
    while (!/kit-42 \w+/.test(screen) && Date.now() < deadline) await sleep(20);
    expect(screen).toMatch(/kit-42 \w+/);
    term.destroy();
    agent.kill();
    shell.kill();
    await Promise.all([agent.exited, shell.exited]);
  }, 60_000);

  it('is built for arm64 too (npm brings that addon): the same bundle with an AArch64 node-pty, served by the hub with its SHA-256', async () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-device.js'), '--if-stale', '--arch', 'x64,arm64'], { stdio: 'pipe', timeout: 180_000 });
    const built = JSON.parse(readFileSync(join(KIT_OUT, 'kit.json'), 'utf8')) as { kits: Record<string, { file: string; sha256: string }> };
    const dirs: Record<string, string> = {};
    for (const arch of ['x64', 'arm64']) {
      const k = built.kits[arch] as { file: string; sha256: string };
      dirs[arch] = tempDir(`ds-kit-${arch}-`);
      execFileSync('tar', ['-xzf', join(KIT_OUT, k.file), '-C', dirs[arch]]);
    }
    const root = (arch: string): string => join(dirs[arch] as string, `devicestreams-device-${kit.version}-linux-${arch}`);
    // ELF e_machine: 62 is x86-64, 183 is AArch64.
    const machine = (arch: string): number => readFileSync(join(root(arch), 'node_modules', '@lydell', `node-pty-linux-${arch}`, 'pty.node')).readUInt16LE(18);
    expect([machine('x64'), machine('arm64')]).toEqual([62, 183]);
    expect(readFileSync(join(root('arm64'), 'lib', 'devicestreams-device.cjs')).equals(readFileSync(join(root('x64'), 'lib', 'devicestreams-device.cjs')))).toBe(true);
    const arm = built.kits.arm64 as { file: string; sha256: string };
    const served = await download(`${hub.url}/device-kit/${arm.file}`, hub.ca);
    expect(served.sha256Header).toBe(arm.sha256);
    expect(createHash('sha256').update(served.body).digest('hex')).toBe(arm.sha256);
  }, 240_000);

  it('its launcher refuses a Node older than the kit supports, saying which it needs (exit 3)', () => {
    const launcher = readFileSync(kit.bin, 'utf8');
    expect(launcher).toContain(`'${OLDEST_NODE.split('.').slice(0, 2).join('.')}'`);
    // The same launcher with a minimum above this Node: what an old Node meets.
    const strict = join(kit.dir, 'bin', 'strict-launcher');
    writeFileSync(strict, launcher.replace(/'\d+\.\d+'\.split/, "'99.0'.split"));
    const r = spawnSync(process.execPath, [strict, 'version'], { cwd: kit.dir, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`devicestreams-device needs Node.js 99.0 or newer; this is ${process.version}`);
    expect(r.stdout).toBe('');
  });

  it('refuses a config file other accounts can read, saying how to fix it', async () => {
    const config = await writeConfig('kit-dev-open', [`echo=127.0.0.1:${echoPort}`], 0o644);
    const agent = runKit(['agent', '--config', config]);
    expect(await agent.exited).toBe(2);
    expect(agent.output()).toMatch(new RegExp(`mode 644 lets other accounts read the device's key; run: chmod 600 ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(agent.output()).not.toMatch(/connected to the hub/);
  });

  it('the agent idles in little memory (RSS measured after it connected and settled)', async () => {
    const config = await writeConfig('kit-dev-idle', [`echo=127.0.0.1:${echoPort}`]);
    const agent = runKit(['agent', '--config', config]);
    await agent.waitFor(/connected to the hub/);
    await sleep(3000);
    const rss = rssOf(agent.pid);
    process.stderr.write(`device kit agent idle RSS: ${(rss / 1024 / 1024).toFixed(1)} MiB (Node ${process.version})\n`);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(80 * 1024 * 1024);
  }, 30_000);
});
