/**
 * The one-command stack behind `npm start`: hub, streaming endpoint and operator console in this
 * process over one SQLite file in ./data, and the demo device — its agent and its shell server —
 * as real child processes talking TLS over loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createBffRole } from '../server/bff/role.js';
import { createServiceClient } from '../server/sdk/service-client.js';
import { startServer } from '../server/server.js';
import { oneLine } from '../shared/log-text.js';
import { DEFAULT_APPS_DOMAIN, appOrigin } from '../shared/app-origin.js';
import { startDemoWeb, type DemoWeb } from './demo-web.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'devicestreams.js');
export const DEMO_DEVICE = 'demo-device';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${oneLine(line)}\n`);
}

/** Starts a CLI child (its log goes to our stderr) and resolves once its output matches `ready`. */
function child(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolveChild, reject) => {
    // It stops when this process is gone (bin/devicestreams.js), however this process ended.
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, DEVICESTREAMS_EXIT_WITH_PARENT: String(process.pid) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let done = false;
    const timer = setTimeout(() => {
      proc.kill('SIGTERM');
      reject(new Error(`devicestreams ${args[0]} did not become ready within 20 s:\n${seen.slice(-500)}`));
    }, 20_000);
    const onData = (d: Buffer): void => {
      process.stderr.write(d);
      if (done) return;
      seen += d.toString();
      const m = ready.exec(seen);
      if (m !== null) {
        done = true;
        clearTimeout(timer);
        resolveChild({ proc, match: m });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!done) reject(new Error(`devicestreams ${args[0]} exited with ${code}:\n${seen.slice(-500)}`));
    });
  });
}

/**
 * The demo shell server's socket: in the (private) data directory, or, when that path would pass
 * the length a Unix socket path may have (108 bytes), in a private directory of its own under /tmp.
 */
function demoSocketPath(dataDir: string): string {
  const inData = join(dataDir, 'demo-device', 'shell.sock');
  return Buffer.byteLength(inData) < 100 ? inData : join(mkdtempSync(join(tmpdir(), 'devicestreams-demo-')), 'shell.sock');
}

export async function runStack(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' } } });
  const dataDir = resolve(values['data-dir'] ?? join(ROOT, 'data'));
  const port = Number(values.port ?? process.env.PORT ?? 8443);

  const build = spawn(process.execPath, [join(ROOT, 'scripts', 'build-web.js')], { stdio: 'inherit' });
  const built = await new Promise<number | null>((r) => build.once('exit', r));
  if (built !== 0) throw new Error('building the console failed (see above)');
  // The device kit the hub serves to /install.sh, when it is missing or older than its sources.
  const kit = spawn(process.execPath, [join(ROOT, 'scripts', 'build-device.js'), '--if-stale'], { stdio: 'inherit' });
  if ((await new Promise<number | null>((r) => kit.once('exit', r))) !== 0) throw new Error('building the device kit failed (see above)');

  // The first admin password is kept in the data directory so a second start can print it again.
  const passwordFile = join(dataDir, 'secrets', 'console-admin-password');
  const firstStart = !existsSync(join(dataDir, 'hub.db'));
  const adminPassword = process.env.DEVICESTREAMS_ADMIN_PASSWORD ?? (existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : randomBytes(12).toString('base64url'));

  const server = await startServer({
    roles: new Set(['hub', 'gateway']),
    dataDir,
    host: '127.0.0.1',
    port,
    tls: { kind: 'local' },
    appsDomain: DEFAULT_APPS_DOMAIN,
    heartbeatIntervalMs: 15_000,
    throttle: { maxStreamsPerDevice: 20, maxStreamsPerHub: 2000, initiationsPerSecond: 500 },
    log,
    extraRoles: [(s) => createBffRole(s, { dataDir, adminPassword, log, announce: () => undefined })],
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new Error(`port ${port} is in use (another npm start?); stop it or run: PORT=8444 npm start`);
    throw err;
  });
  if (firstStart && process.env.DEVICESTREAMS_ADMIN_PASSWORD === undefined) writeFileSync(passwordFile, `${adminPassword}\n`, { mode: 0o600 });

  const store = server.store;
  if (store === undefined || server.caFile === undefined) throw new Error('hub role missing');
  if ((await store.devices.get(DEMO_DEVICE)) === undefined) {
    const owner = createServiceClient((await server.ownerConnectionString()) as string, { ca: readFileSync(server.caFile, 'utf8'), hubUrl: server.internalUrl });
    await owner.createDevice(DEMO_DEVICE);
    log(`registered the demo device "${DEMO_DEVICE}"`);
  }
  const device = await store.devices.get(DEMO_DEVICE);
  if (device === undefined) throw new Error('demo device missing');
  const deviceCs = `HostName=${server.hostName};DeviceId=${DEMO_DEVICE};SharedAccessKey=${device.primaryKey}`;

  const children: ChildProcess[] = [];
  let demoWeb: DemoWeb | undefined;
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    log('stopping');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    void demoWeb?.close();
    void server.close().then(() => process.exit(code));
    setTimeout(() => process.exit(1), 5000).unref();
  };
  const filesRoot = join(dataDir, 'demo-device', 'files');
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  try {
    // The demo device's shell is a clean bash (no rc files): a slow or broken ~/.bashrc on the
    // machine running the demo must not make the first terminal look dead.
    // As on a real device, the shell server listens on a Unix socket in a directory only this
    // user can enter, so no other local account can reach it (a loopback TCP port would let them).
    const socket = demoSocketPath(dataDir);
    const shell = await child(
      ['shell-server', '--listen', `unix:${socket}`, '--cwd', process.env.HOME ?? ROOT, '--shell', '/bin/bash',
        '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', `PS1=\\u@${DEMO_DEVICE}:\\w\\$ `],
      {},
      /LISTENING unix:/,
    );
    children.push(shell.proc);
    // And a file server for `devicestreams cp`, its root in the data directory, on a socket beside the shell's.
    mkdirSync(filesRoot, { recursive: true, mode: 0o700 });
    const filesSocket = join(dirname(socket), 'files.sock');
    const files = await child(['file-server', '--root', filesRoot, '--listen', `unix:${filesSocket}`], {}, /LISTENING unix:/);
    children.push(files.proc);
    // Its "web UI": a status page on a loopback port, mapped as http, opened from the console.
    demoWeb = await startDemoWeb({ name: DEMO_DEVICE });
    const agent = await child(
      ['agent', '--ca', server.caFile, '--hub-url', server.internalUrl, '--map', `shell=unix:${socket}`, '--map', `files=unix:${filesSocket}`,
        '--map', `http=127.0.0.1:${demoWeb.port}`],
      { DEVICE_CONNECTION_STRING: deviceCs },
      /connected to the hub/,
    );
    children.push(agent.proc);
    for (const c of children) {
      c.once('exit', (code, signal) => {
        if (!stopping) log(`a demo device process (pid ${c.pid}) exited (${signal ?? code}); the console still runs`);
      });
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log('could not start the demo device:');
    for (const line of why.split('\n')) if (line.trim() !== '') log(`  ${line}`);
    if (/in use by a running/.test(why)) log(`another npm start (or its demo device) is using ${dataDir}; stop it first, or give this one its own: npm start -- --data-dir DIR`);
    stop(1);
    return;
  }

  process.stdout.write(
    `\nDeviceStreams is running.\n\n` +
      `  Console:  ${server.url}/\n` +
      `  Login:    admin / ${adminPassword}\n` +
      `            (your browser will warn about the local CA; trust ${server.caFile} or proceed)\n\n` +
      `  Demo device "${DEMO_DEVICE}": agent, shell server and file server (${filesRoot}) running as child processes,\n` +
      `            and a status page as its web app: Devices → ${DEMO_DEVICE} → Open web app\n` +
      `            (${appOrigin(server.url, DEFAULT_APPS_DOMAIN, DEMO_DEVICE, 'http')}/ — Chromium and Firefox resolve *.localhost themselves).\n` +
      `  Data in ${dataDir}. Ctrl-C stops everything; the next start reuses the data.\n\n` +
      `  CLI, from another terminal in this folder:\n` +
      `    export IOTHUB_CONNECTION_STRING="$(npx devicestreams policy connection-string iothubowner --host-name ${server.hostName})"\n` +
      `    export DEVICESTREAMS_CA=${server.caFile}\n` +
      `    npx devicestreams device list\n` +
      `    npx devicestreams cp README.md ${DEMO_DEVICE}:README.md\n\n`,
  );
}
