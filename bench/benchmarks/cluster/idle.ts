/**
 * The cluster benchmark's idle phase: as `idle` per node. A warm-up batch of devices connects
 * through the balancer and leaves, each node's steady VmRSS is the baseline, then M devices connect
 * through the balancer (device SDK, bench/fixtures/idle-clients.ts), the nodes settle, and each
 * node's VmRSS again, divided by the devices that node holds. The comparison in the same run: the
 * `idle` benchmark itself with as many devices as the busiest node held.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { ServiceClient } from '../../../server/sdk/service-client.js';
import type { TestCluster } from '../../../test/fixtures/cluster.js';
import { rssOf, sleep, spawnProc, tempDir, type Proc } from '../../../test/harness.js';
import { status, type BenchContext, type PhaseResult, type Row } from '../../lib/result.js';
import { KiB, fmtBytes, fmtMs, fmtRatio, nowMs, openFileLimits, progress, steadyRss } from '../../lib/util.js';
import { CLIENTS, PER_PROCESS, gaugesOf, idle, warmBaseline } from '../idle.js';
import { cpuMeter, fmtCpu, fmtOther, wchanSampler } from './accounting.js';
import { fleetId } from './registry.js';

const TARGET_BYTES_PER_DEVICE = 30 * KiB;
/**
 * Control channels opened at a time, in all client processes together. More only queues TLS
 * handshakes at the nodes (two cores shared by everything): past the SDK's 15 s handshake timeout
 * they fail and are retried, and the retries take the CPU the next connections need.
 */
const CONNECTS_IN_FLIGHT = 96;
/** How long the client processes keep trying to connect all their devices. */
const CONNECT_DEADLINE_SECONDS = 600;

export interface IdleSetup {
  c: TestCluster;
  /** A client of each node directly (its own /metrics). */
  direct: ServiceClient[];
  /** Primary keys of the seeded devices fleetId(0), fleetId(1), … */
  keys: string[];
  /** Ports the balancer listens on besides c.lb.port; the client processes take the ports in turn. */
  extraPorts: number[];
  /** The processes whose CPU is counted, by name. */
  cpuProcs: () => Record<string, number[]>;
}

const connectedOn = async (d: ServiceClient): Promise<number> => (await gaugesOf(d)).connectedDevices;

/**
 * Seeded devices that a node holds but the store says are connected nowhere (of the first `n`),
 * when the store counts fewer online than the nodes hold.
 */
async function offlineInStore(storeUrl: string, n: number): Promise<string[]> {
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect();
  try {
    const ids = Array.from({ length: n }, (_, i) => fleetId(i));
    return (await db.query<{ device_id: string }>('SELECT device_id FROM devices WHERE device_id = ANY($1) AND connected_node IS NULL ORDER BY device_id', [ids])).rows.map((r) => r.device_id);
  } finally {
    await db.end();
  }
}

export async function idlePhase(ctx: BenchContext, o: IdleSetup, n: number): Promise<PhaseResult> {
  const { c, direct, cpuProcs } = o;
  const host = /HostName=([^;]+)/.exec(c.handle.ownerCs)?.[1] ?? '';
  const credsFile = join(tempDir('ds-bench-cluster-'), 'creds.json');
  writeFileSync(credsFile, JSON.stringify(o.keys.slice(0, n).map((k, i) => ({ cs: `HostName=${host};DeviceId=${fleetId(i)};SharedAccessKey=${k}` }))));
  const processes = Math.ceil(n / PER_PROCESS);
  const perProcess = Math.min(50, Math.max(8, Math.floor(CONNECTS_IN_FLIGHT / processes)));
  const urls = [c.handle.url, ...o.extraPorts.map((p) => `https://localhost:${p}`)];
  const args = (from: number, to: number, url = c.handle.url): string[] => ['--import', 'tsx', CLIENTS, credsFile, String(from), String(to), url, c.handle.caFile, String(perProcess), String(CONNECT_DEADLINE_SECONDS)];
  const nodeLimits = c.nodes.map((nd) => openFileLimits(nd.proc.pid));
  const perNode = Math.ceil(n / c.nodes.length);
  const short = nodeLimits.find((l) => l.soft < perNode + 1000);
  if (short !== undefined) throw new Error(`a node's open-file limit (${short.soft}) is below the ${perNode + 1000} its share of ${n} devices needs`);

  // Warm-up, as idle.ts does for one hub: a batch (a tenth, at most 500 per node) connects through
  // the balancer and leaves; the nodes settle; then the baseline.
  const warmN = Math.min(500 * c.nodes.length, Math.ceil(n / 10));
  const before = await warmBaseline(args(0, warmN), c.nodes.map((nd) => nd.proc.pid), 4000);
  const gaugesBefore = await Promise.all(direct.map((d) => gaugesOf(d)));
  const otherBefore = { haproxy: c.lb.procs.reduce((s, p) => s + rssOf(p.pid), 0), nats: rssOf(c.nats.proc().pid) };
  progress(`cluster/idle: baseline after ${warmN} warm-up devices: ${before.map((b, k) => `${c.nodes[k]?.id} ${fmtBytes(b)}`).join(', ')}`);

  const procs: Proc[] = [];
  const t1 = nowMs();
  for (let from = 0; from < n; from += PER_PROCESS) procs.push(spawnProc(process.execPath, args(from, Math.min(n, from + PER_PROCESS), urls[procs.length % urls.length])));
  const withClients = (): Record<string, number[]> => ({ ...cpuProcs(), clients: procs.map((p) => p.pid) });
  const meter = cpuMeter(withClients());
  // Every 10 s: what each node holds and where the CPU went meanwhile.
  const timeline: Array<{ s: number; held: number[]; cpuMs: Record<string, number> }> = [];
  const wchan = wchanSampler(Object.fromEntries(c.nodes.map((nd) => [nd.id, nd.proc.pid])));
  let tick = cpuMeter(withClients());
  const monitor = setInterval(() => {
    const cpuMs = tick();
    tick = cpuMeter(withClients());
    void Promise.all(direct.map((d) => connectedOn(d).catch(() => Number.NaN))).then((held) => {
      timeline.push({ s: Math.round((nowMs() - t1) / 1000), held, cpuMs });
      progress(`cluster/idle: ${Math.round((nowMs() - t1) / 1000)} s: nodes hold ${held.join(' + ')}; CPU ms in 10 s: ${fmtCpu(cpuMs)}`);
    });
  }, 10_000);
  const done = { connected: 0, failed: 0, connectErrors: 0, disconnects: 0 };
  try {
    for (const p of procs) {
      const m = await p.waitFor(/DONE (\d+) (\d+) (\d+) (\d+)/, (CONNECT_DEADLINE_SECONDS + 60) * 1000);
      done.connected += Number(m[1]);
      done.failed += Number(m[2]);
      done.connectErrors += Number(m[3]);
      done.disconnects += Number(m[4]);
    }
  } finally {
    clearInterval(monitor);
  }
  const connectMs = nowMs() - t1;
  const connectCpuMs = meter();
  const connecting = { fromMs: t1, toMs: nowMs() };
  const nodeThreads = wchan();
  progress(`cluster/idle: nodes' main threads while connecting (ms): ${JSON.stringify(nodeThreads)}`);
  progress(`cluster/idle: ${done.connected} connected (${done.failed} failed; ${done.connectErrors} failed attempts retried, ${done.disconnects} channels lost after connecting) through the balancer in ${fmtMs(connectMs)}; CPU ms meanwhile: ${fmtCpu(connectCpuMs)}`);

  // Settled: every channel the nodes hold is written to the store (at most 30 s more), then 5 s.
  const settleUntil = Date.now() + 30_000;
  for (;;) {
    const heldNow = (await Promise.all(direct.map(connectedOn))).reduce((a, b) => a + b, 0);
    const online = (await c.handle.service.deviceStatistics()).connectedDeviceCount;
    if (online === heldNow || Date.now() > settleUntil) break;
    await sleep(1000);
  }
  await sleep(5000);
  const after: number[] = [];
  for (const nd of c.nodes) after.push(await steadyRss(nd.proc.pid, 5, 300));
  const gaugesAfter = await Promise.all(direct.map((d) => gaugesOf(d)));
  const held = gaugesAfter.map((g) => g.connectedDevices);
  const total = held.reduce((s, v) => s + v, 0);
  const online = (await c.handle.service.deviceStatistics()).connectedDeviceCount;
  // Devices a node holds that the store says are connected nowhere: which, and were they among the
  // warm-up batch (connected to some node, gone, then connected again, maybe to another node)?
  const offline = online < total ? await offlineInStore(c.storeUrl, n) : [];
  const offlineWarm = offline.filter((id) => Number(id.slice(-6)) < warmN).length;
  const offlineLog = offline.slice(0, 3).flatMap((id) => c.nodes.flatMap((nd) => nd.proc.output().split('\n').filter((l) => l.includes(`device ${id} `)).map((l) => `${nd.id}: ${l.slice(0, 160)}`)));
  if (offline.length > 0) progress(`cluster/idle: ${offline.length} devices held by a node are connected nowhere in the store (${offlineWarm} of them from the warm-up batch), e.g. ${offline.slice(0, 5).join(', ')}`);
  // Channels lost since DONE (heartbeats missed while the others were connecting).
  let lostLater = -done.disconnects;
  await Promise.all(procs.map(async (p) => {
    p.child.stdin?.write('\n');
    const m = await p.waitFor(/STATS \d+ \d+ (\d+)/, 10_000).catch(() => undefined);
    lostLater += Number(m?.[1] ?? 0);
  }));
  const otherAfter = { haproxy: c.lb.procs.reduce((s, p) => s + rssOf(p.pid), 0), nats: rssOf(c.nats.proc().pid) };
  const nodes = c.nodes.map((nd, k) => {
    const devices = held[k] ?? 0;
    const b = before[k] ?? Number.NaN;
    const a = after[k] ?? Number.NaN;
    // Where it went: the V8 heap (JavaScript objects), "external" (Buffers), the rest (OpenSSL, allocator).
    const gb = gaugesBefore[k];
    const ga = gaugesAfter[k];
    const per = (key: 'heapUsed' | 'heapTotal' | 'external'): number => ((ga?.[key] ?? Number.NaN) - (gb?.[key] ?? Number.NaN)) / Math.max(1, devices);
    return {
      node: nd.id, devices, rssBefore: b, rssAfter: a, bytesPerDevice: (a - b) / Math.max(1, devices), openFileLimit: nodeLimits[k]?.soft,
      perDevice: { heapUsed: per('heapUsed'), heapTotal: per('heapTotal'), external: per('external') },
      gaugesBefore: gb, gaugesAfter: ga,
    };
  });
  const worst = nodes.reduce((w, x) => (x.bytesPerDevice > w.bytesPerDevice ? x : w));
  for (const x of nodes) progress(`cluster/idle: ${x.node}: ${x.devices} devices, RSS ${fmtBytes(x.rssBefore)} → ${fmtBytes(x.rssAfter)}, ${fmtBytes(x.bytesPerDevice)} per device (V8 heap used ${fmtBytes(x.perDevice.heapUsed)}, heap reserved ${fmtBytes(x.perDevice.heapTotal)}, external ${fmtBytes(x.perDevice.external)} of it)`);
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  const allThere = total === n && done.connected === n;

  // The comparison, in the same run: the `idle` benchmark itself — one hub (SQLite, no cluster)
  // with as many devices as the busiest node held, measured the same way, and its platform floor
  // (a bare node:tls server with as many idle connections). The cluster stays up, idle, meanwhile.
  progress(`cluster/idle: the same on one hub (the idle benchmark with ${Math.max(...held)} devices)`);
  const single = (await idle({ ...ctx, profile: false, sizes: { ...ctx.sizes, idleDevices: Math.max(...held) } })).raw as {
    bytesPerDevice: number;
    connectedPerHubMetrics: number;
    heapPerDevice: { heapUsed: number; heapTotal: number; external: number };
    bareTls: { connected: number; perConnection: number };
  };
  progress(`cluster/idle: one hub ${fmtBytes(single.bytesPerDevice)} per device (V8 heap used ${fmtBytes(single.heapPerDevice.heapUsed)}, heap reserved ${fmtBytes(single.heapPerDevice.heapTotal)}, external ${fmtBytes(single.heapPerDevice.external)} of it)`);
  const floor = single.bareTls;
  const info = (metric: string, project: string): Row => ({ bench: 'cluster', metric, project, comparison: '', ratio: '', target: 'reported', status: 'info' });
  return {
    rows: [
      { bench: 'cluster', metric: `node memory per connected device, worst node (${worst.node}, ${worst.devices} devices)`, project: fmtBytes(worst.bytesPerDevice), comparison: `${fmtBytes(single.bytesPerDevice)} one hub (${single.connectedPerHubMetrics})`, ratio: fmtRatio(worst.bytesPerDevice / single.bytesPerDevice), target: '≤ 30 KiB', status: allThere ? status(worst.bytesPerDevice <= TARGET_BYTES_PER_DEVICE) : 'FAILED' },
      ...nodes.map((x): Row => ({ bench: 'cluster', metric: `${x.node}: ${x.devices} devices, VmRSS ${fmtBytes(x.rssBefore)} → ${fmtBytes(x.rssAfter)}`, project: `${fmtBytes(x.bytesPerDevice)} per device`, comparison: '', ratio: '', target: '≤ 30 KiB', status: status(x.bytesPerDevice <= TARGET_BYTES_PER_DEVICE) })),
      { bench: 'cluster', metric: `platform floor: bare node:tls server, ${floor.connected} idle connections`, project: fmtBytes(floor.perConnection), comparison: '', ratio: '', target: 'reference', status: 'info' },
      { bench: 'cluster', metric: `idle devices connected through the balancer (${procs.length} client processes)`, project: `${total}/${n} held by nodes`, comparison: '', ratio: '', target: 'all', status: allThere ? 'met' : 'FAILED' },
      { bench: 'cluster', metric: 'of them online in the store (settled: ≥ 5 s, up to 30 s more)', project: `${online}/${total}${offline.length > 0 ? ` (${offlineWarm} of the ${offline.length} missing were warm-up devices)` : ''}`, comparison: '', ratio: '', target: 'all held', status: status(online === total) },
      info('control channels connected per second through the balancer', `${(done.connected / (connectMs / 1000)).toFixed(0)}/s`),
      info('busy CPU of other work on the machine while connecting', fmtOther(connectCpuMs)),
      info('haproxy VmRSS before → after (all its processes)', `${fmtBytes(otherBefore.haproxy)} → ${fmtBytes(otherAfter.haproxy)}`),
    ],
    raw: {
      devices: n,
      warmUpDevices: warmN,
      clientProcesses: procs.length,
      connectMs,
      connectedPerClients: done.connected,
      failed: done.failed,
      connectErrors: done.connectErrors,
      disconnects: done.disconnects,
      connectsInFlightPerProcess: perProcess,
      channelsLostAfterDone: lostLater,
      timeline,
      heldByNodes: total,
      onlineInStore: online,
      heldButOfflineInStore: { count: offline.length, fromWarmUp: offlineWarm, ids: offline.slice(0, 50), nodeLogLines: offlineLog },
      nodes,
      worstBytesPerDevice: worst.bytesPerDevice,
      connectCpuMs,
      nodeMainThreadMs: nodeThreads,
      otherRss: { before: otherBefore, after: otherAfter },
      oneHub: single,
    },
    windows: { 'idle: connecting': connecting },
  };
}
