/**
 * Test harness: real processes of the real CLI, real TLS, ports chosen at run time. Every process
 * started here is recorded and killed by pid in `stopAll()` (call it in afterAll/afterEach).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'bin', 'devicestreams.js');

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the first match of `re` in stdout+stderr (waits up to `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** The signal `stopAll` sends first (SIGTERM unless the process was started with another). */
  readonly stopSignal: NodeJS.Signals;
}

const live = new Set<Proc>();
const dirs: string[] = [];

export function tempDir(prefix = 'ds-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function spawnProc(command: string, args: string[], env: Record<string, string | undefined> = {}, stopSignal: NodeJS.Signals = 'SIGTERM', cwd?: string): Proc {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...(cwd === undefined ? {} : { cwd }) });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    text += d.toString('utf8');
    if (text.length > 1_000_000) text = text.slice(-500_000);
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const proc: Proc = {
    child,
    pid: child.pid ?? -1,
    output: () => text,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = (): boolean => {
          const m = re.exec(text);
          if (m !== null) {
            listeners.delete(onChange);
            clearTimeout(timer);
            resolveMatch(m);
            return true;
          }
          return false;
        };
        const onChange = (): void => void check();
        const timer = setTimeout(() => {
          listeners.delete(onChange);
          reject(new Error(`timed out waiting for ${String(re)} from pid ${child.pid}; output so far:\n${text.slice(-3000)}`));
        }, timeoutMs);
        if (check()) return;
        listeners.add(onChange);
        void exited.then(() => {
          if (listeners.has(onChange) && !check()) {
            listeners.delete(onChange);
            clearTimeout(timer);
            reject(new Error(`pid ${child.pid} exited before printing ${String(re)}; output:\n${text.slice(-3000)}`));
          }
        });
      });
    },
    exited,
    stopSignal,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): Proc {
  return spawnProc(process.execPath, [CLI, ...args], env);
}

/** Kills every process this harness started (SIGKILL after 3 s) and removes temp dirs. */
/** Runs the CLI to completion (at most 30 s) and gives its exit code and output: a command as a user types it. */
export function runCli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export async function stopAll(): Promise<void> {
  const procs = [...live];
  for (const p of procs) p.kill(p.stopSignal);
  await Promise.all(
    procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000))]).then(() => p.kill('SIGKILL'))),
  );
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface HubHandle {
  proc: Proc;
  url: string;
  port: number;
  dataDir: string;
  caFile: string;
  ca: string;
  ownerCs: string;
  service: ServiceClient;
  /** The secret stream tokens are signed with (the data directory's file, or a cluster's store row). */
  streamTokenSecret(): Promise<Buffer>;
  /** How the store-reading CLI commands (policy, operator) reach this hub's store. */
  storeArgs: string[];
  /** The https:// bases the hub's streaming URLs may name (the hub itself, or each node of a cluster). */
  streamingBases: string[];
}

/**
 * Starts `devicestreams hub` on a free port with a fresh (or given) data directory. With
 * DS_TEST_TARGET=cluster it starts a two-node cluster behind haproxy instead and returns a handle of
 * the same shape (see test/fixtures/cluster.ts), so a suite runs unchanged against either.
 */
export async function startHub(extraArgs: string[] = [], dataDir = tempDir(), env: Record<string, string> = {}): Promise<HubHandle> {
  if (process.env.DS_TEST_TARGET === 'cluster') return (await import('./fixtures/cluster.js')).startClusterHub(extraArgs, env);
  const proc = spawnCli(['hub', '--data-dir', dataDir, '--port', '0', '--heartbeat-interval', '1', ...extraArgs], env);
  return hubHandle(proc, dataDir);
}

/** The handle of a `devicestreams hub` process on `dataDir` once it printed READY. */
export async function hubHandle(proc: Proc, dataDir: string): Promise<HubHandle> {
  const ready = await proc.waitFor(/READY (https?:\/\/\S+)/);
  const url = ready[1] as string;
  const caFile = join(dataDir, 'tls', 'ca.pem');
  const ca = url.startsWith('https') ? readFileSync(caFile, 'utf8') : '';
  // Printed on first start only; a restart on the same data directory reads it back from there.
  const m = /(HostName=[^\s']+;SharedAccessKeyName=iothubowner;SharedAccessKey=[^\s']+)/.exec(proc.output());
  const host = new URL(url);
  const ownerCs = m !== null ? (m[1] as string) : execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'iothubowner', '--data-dir', dataDir, '--host-name', host.host], { encoding: 'utf8' }).trim();
  return {
    proc, url, port: Number(new URL(url).port), dataDir, caFile, ca, ownerCs,
    service: createServiceClient(ownerCs, { ca, hubUrl: url }),
    streamTokenSecret: () => Promise.resolve(Buffer.from(readFileSync(join(dataDir, 'secrets', 'stream-token.key'), 'utf8').trim(), 'base64')),
    storeArgs: ['--data-dir', dataDir],
    streamingBases: [url],
  };
}

/** Starts the fixture echo server as its own process; resolves with its port. */
export async function startEchoServer(): Promise<{ proc: Proc; port: number }> {
  const proc = spawnProc(process.execPath, [join(ROOT, 'test', 'fixtures', 'echo-server.mjs')]);
  const m = await proc.waitFor(/PORT (\d+)/);
  return { proc, port: Number(m[1]) };
}

/** Registers `deviceId` (if needed) and starts `devicestreams agent` for it with `maps`. */
export async function startAgent(hub: HubHandle, deviceId: string, maps: string[], extraArgs: string[] = []): Promise<Proc> {
  try {
    await hub.service.createDevice(deviceId);
  } catch (err) {
    if (!(err instanceof Error && /already exists/.test(err.message))) throw err;
  }
  const cs = await hub.service.deviceConnectionString(deviceId);
  const proc = spawnCli(['agent', '--ca', hub.caFile, ...maps.flatMap((m) => ['--map', m]), ...extraArgs], { DEVICE_CONNECTION_STRING: cs });
  await proc.waitFor(/connected to the hub/);
  return proc;
}

/**
 * Starts `devicestreams shell-server` on a Unix socket in a fresh private directory (as it runs on
 * a device); resolves with the agent mapping that reaches it (`shell=unix:…`).
 */
export async function startShellServer(args: string[] = ['--shell', '/bin/bash', '--shell-arg=--norc', '--shell-arg=--noprofile', '--env', 'PS1=$ ']): Promise<{ proc: Proc; map: string; path: string }> {
  const path = join(tempDir('ds-shell-'), 'sock', 'shell.sock');
  const proc = spawnCli(['shell-server', '--listen', `unix:${path}`, ...args]);
  await proc.waitFor(/LISTENING unix:/);
  return { proc, map: `shell=unix:${path}`, path };
}

/** Starts `devicestreams proxy` on a free loopback port; resolves with the port. */
export async function startProxy(hub: HubHandle, deviceId: string, stream: string): Promise<{ proc: Proc; port: number }> {
  const proc = spawnCli(['proxy', '--device', deviceId, '--stream', stream, '--listen', '127.0.0.1:0', '--ca', hub.caFile], {
    IOTHUB_CONNECTION_STRING: hub.ownerCs,
  });
  const m = await proc.waitFor(/LISTENING [^:]+:(\d+)/);
  return { proc, port: Number(m[1]) };
}

/** Resident memory of a process in bytes (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/**
 * A loopback port that was free a moment ago (bind port 0, read it, close). For the few places
 * that must name a port before starting something (a process restarted on the same port, two
 * processes that must know each other's URL); everything else binds port 0 itself.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
