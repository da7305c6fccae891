/**
 * Idle devices: N registered devices each keep a control channel (WSS, SAS, the real device SDK)
 * open to one hub; the hub's resident memory before and after they connect, divided by N, is the
 * cost of one connected device. The devices are registered through the REST API on a first hub
 * process, which is then restarted on the same data directory, so the registration's garbage is
 * not in the "before" figure, and a batch of devices (a tenth, at most 500) connects and leaves
 * before the baseline. The same count of idle connections to a bare node:tls server
 * (bench/fixtures/tls-idle.mjs) is the platform floor: what Node keeps per TLS connection.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, spawnProc, tempDir, type HubHandle, type Proc } from '../../test/harness.js';
import type { ServiceClient } from '../../server/sdk/service-client.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startBenchHub } from '../lib/stack.js';
import { KiB, fmtBytes, fmtMs, metric, nowMs, progress, steadyRss } from '../lib/util.js';

/** The simulated devices (device SDK) and how many one client process opens. */
export const CLIENTS = join(import.meta.dirname, '..', 'fixtures', 'idle-clients.ts');
export const PER_PROCESS = 2500;
const TLS_IDLE = join(import.meta.dirname, '..', 'fixtures', 'tls-idle.mjs');
const TARGET_BYTES_PER_DEVICE = 30 * KiB;

async function registerDevices(hub: HubHandle, n: number): Promise<Array<{ id: string; key: string }>> {
  const out: Array<{ id: string; key: string }> = new Array<{ id: string; key: string }>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const id = `idle-${String(i).padStart(6, '0')}`;
      const d = await hub.service.createDevice(id);
      out[i] = { id, key: d.authentication.symmetricKey.primaryKey };
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => worker()));
  return out;
}

/**
 * A hub's V8 heap (used, reserved), Buffer memory and longest event-loop delay since the last
 * scrape (prom-client's process metrics), and the devices it holds, from its /metrics.
 */
export async function gaugesOf(service: ServiceClient): Promise<{ heapUsed: number; heapTotal: number; external: number; eventLoopLagMaxSeconds: number; connectedDevices: number }> {
  const text = String((await service.call('GET', '/metrics')).body);
  const g = (name: string): number => metric(text, `devicestreams_${name}`);
  return {
    heapUsed: g('process_nodejs_heap_size_used_bytes'),
    heapTotal: g('process_nodejs_heap_size_total_bytes'),
    external: g('process_nodejs_external_memory_bytes'),
    eventLoopLagMaxSeconds: g('process_nodejs_eventloop_lag_max_seconds'),
    connectedDevices: g('connected_devices'),
  };
}

/** Connections opened and closed before a baseline is taken (the same for the hub and the floor). */
function warmCount(n: number): number {
  return Math.min(500, Math.ceil(n / 10));
}

/**
 * The baseline of warm servers (`pids`): a batch of clients (`clientArgs`, a process that prints
 * "DONE …" once connected) connects, is killed, the servers settle; then their resident memory.
 * The hub, the bare TLS floor and the cluster's nodes are measured the same way.
 */
export async function warmBaseline(clientArgs: string[], pids: number[], settleMs = 3000): Promise<number[]> {
  const warm = spawnProc(process.execPath, clientArgs);
  await warm.waitFor(/DONE \d+/, 120_000);
  warm.kill('SIGKILL');
  await warm.exited;
  await sleep(settleMs);
  const out: number[] = [];
  for (const pid of pids) out.push(await steadyRss(pid, 5, 300));
  return out;
}

/** Resident memory a bare node:tls server gains per idle connection, for `n` connections. */
async function bareTlsPerConnection(tlsDir: string, n: number): Promise<{ connected: number; rssBefore: number; rssAfter: number; perConnection: number }> {
  const server = spawnProc(process.execPath, [TLS_IDLE, 'server', join(tlsDir, 'server.pem'), join(tlsDir, 'server-key.pem')]);
  const port = (await server.waitFor(/PORT (\d+)/))[1] ?? '';
  // Warm-up as for the hub: a batch of connections opened and closed before the baseline.
  const [rssBefore = Number.NaN] = await warmBaseline([TLS_IDLE, 'client', port, String(warmCount(n)), join(tlsDir, 'ca.pem')], [server.pid]);
  const client = spawnProc(process.execPath, [TLS_IDLE, 'client', port, String(n), join(tlsDir, 'ca.pem')]);
  const connected = Number((await client.waitFor(/DONE (\d+)/, 330_000))[1]);
  await new Promise((r) => setTimeout(r, 5000));
  const rssAfter = await steadyRss(server.pid, 5, 300);
  client.kill('SIGKILL');
  server.kill('SIGKILL');
  await Promise.all([client.exited, server.exited]);
  return { connected, rssBefore, rssAfter, perConnection: (rssAfter - rssBefore) / Math.max(1, connected) };
}

export async function idle(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.idleDevices;
  const first = await startBenchHub({ ...ctx, profile: false });
  const t0 = nowMs();
  const devices = await registerDevices(first, n);
  const registerMs = nowMs() - t0;
  progress(`idle: registered ${n} devices in ${fmtMs(registerMs)}`);
  first.proc.kill('SIGTERM');
  await first.proc.exited;

  const hub = await startBenchHub(ctx, [], {}, first.dataDir);
  const host = /HostName=([^;]+)/.exec(hub.ownerCs)?.[1] ?? '';
  const credsFile = join(tempDir('ds-bench-idle-'), 'creds.json');
  writeFileSync(credsFile, JSON.stringify(devices.map((d) => ({ cs: `HostName=${host};DeviceId=${d.id};SharedAccessKey=${d.key}` }))));

  // Warm-up: the hub in service has connected devices before (compiled its connection path, sized
  // its heap and SQLite cache); a batch of devices connects and leaves before the baseline, so the
  // figure is what one more connected device costs, not the hub's first-connection costs.
  const [before = Number.NaN] = await warmBaseline(['--import', 'tsx', CLIENTS, credsFile, '0', String(warmCount(n)), hub.url, hub.caFile, '50'], [hub.proc.pid]);
  const heapBefore = await gaugesOf(hub.service);

  const procs: Proc[] = [];
  const t1 = nowMs();
  for (let from = 0; from < n; from += PER_PROCESS) {
    const to = Math.min(n, from + PER_PROCESS);
    procs.push(spawnProc(process.execPath, ['--import', 'tsx', CLIENTS, credsFile, String(from), String(to), hub.url, hub.caFile, '50']));
  }
  let connected = 0;
  let failed = 0;
  for (const p of procs) {
    const m = await p.waitFor(/DONE (\d+) (\d+)/, 330_000);
    connected += Number(m[1]);
    failed += Number(m[2]);
  }
  const connectMs = nowMs() - t1;
  progress(`idle: ${connected} connected (${failed} failed) in ${fmtMs(connectMs)}`);
  await new Promise((r) => setTimeout(r, 5000));
  const after = await steadyRss(hub.proc.pid, 5, 300);
  const heapAfter = await gaugesOf(hub.service);
  const atHub = heapAfter.connectedDevices;
  const perDevice = (after - before) / Math.max(1, atHub);
  progress(`idle: hub RSS ${fmtBytes(before)} → ${fmtBytes(after)}, ${fmtBytes(perDevice)} per connected device`);
  for (const p of procs) p.kill('SIGKILL');
  hub.proc.kill('SIGTERM');
  await Promise.all([...procs, hub.proc].map((p) => p.exited));
  const floor = await bareTlsPerConnection(join(hub.dataDir, 'tls'), n);
  progress(`idle: bare node:tls server ${fmtBytes(floor.perConnection)} per idle connection (${floor.connected} connected)`);
  return {
    name: 'idle',
    description: `${n} simulated devices (device SDK, ${procs.length} client process(es)) with open control channels; hub VmRSS before and after`,
    rows: [
      { bench: 'idle', metric: `hub memory per connected device (${atHub} connected)`, project: fmtBytes(perDevice), comparison: '', ratio: '', target: '≤ 30 KiB', status: atHub === n ? status(perDevice <= TARGET_BYTES_PER_DEVICE) : 'FAILED' },
      { bench: 'idle', metric: `platform floor: bare node:tls server, ${floor.connected} idle connections`, project: fmtBytes(floor.perConnection), comparison: '', ratio: '', target: 'reference', status: 'info' },
      { bench: 'idle', metric: 'hub VmRSS before → after', project: `${fmtBytes(before)} → ${fmtBytes(after)}`, comparison: '', ratio: '', target: 'reported', status: 'info' },
      { bench: 'idle', metric: 'control channels connected per second', project: `${(connected / (connectMs / 1000)).toFixed(0)}/s`, comparison: '', ratio: '', target: 'reported', status: 'info' },
    ],
    raw: {
      devices: n,
      clientProcesses: procs.length,
      registerMs,
      connectMs,
      connectedPerClients: connected,
      failed,
      connectedPerHubMetrics: atHub,
      hubRssBefore: before,
      hubRssAfter: after,
      // Of the bytes per device: the V8 heap's (live objects and garbage not yet collected) and Buffers'.
      heapPerDevice: {
        heapUsed: (heapAfter.heapUsed - heapBefore.heapUsed) / Math.max(1, atHub),
        heapTotal: (heapAfter.heapTotal - heapBefore.heapTotal) / Math.max(1, atHub),
        external: (heapAfter.external - heapBefore.external) / Math.max(1, atHub),
      },
      bytesPerDevice: perDevice,
      bareTls: floor,
    },
  };
}
