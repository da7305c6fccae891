/**
 * A cluster: three `devicestreams hub` nodes on one PostgreSQL and one NATS behind Debian's haproxy
 * in TCP mode (test/fixtures/cluster.ts; every one a real process on loopback). In one run, each
 * phase in its own file under cluster/:
 *
 * 1. registry: N devices seeded straight into PostgreSQL; pages and searches of the hub's REST
 *    API and the console's, through the balancer;
 * 2. setup: `initiateStream` → first echoed byte at the node that holds the device and at another;
 * 3. concurrent: streams initiated at once through the balancer to one device per node, data on
 *    all at once, SHA-256 checked; the share that crossed nodes read from the store;
 * 4. idle: the nodes restarted, M devices connected through the balancer, each node's VmRSS per
 *    device it holds.
 *
 * This file starts the cluster and the agents, runs the phases, and records what the cluster said
 * about itself meanwhile. See bench/README.md ("cluster") for the method and what each figure means.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { createServiceClient } from '../../server/sdk/service-client.js';
import { startTestCluster, type ClusterNode, type TestCluster } from '../../test/fixtures/cluster.js';
import { sleep, startAgent, startEchoServer, type Proc } from '../../test/harness.js';
import { status, type BenchContext, type BenchResult, type PhaseResult, type Row } from '../lib/result.js';
import { describeError, fmtMs, nowMs, progress } from '../lib/util.js';
import { profilesByPhase } from './cluster/accounting.js';
import { CHECK_INTERVAL_MS, balancerSeesAllUp, clusterEvents, planBalancer, type NodeStop } from './cluster/balancer.js';
import { concurrentPhase } from './cluster/concurrent.js';
import { idlePhase } from './cluster/idle.js';
import { ADMIN_PASSWORD, SEED_BATCH, registryPhase, seedRegistry } from './cluster/registry.js';
import { setupPhase } from './cluster/setup.js';
import { gaugesOf } from './idle.js';

const NODES = 3;

/** The commit measured and the files changed in the working tree outside bench/ (others may be editing). */
function workingTree(): { commit: string; changedOutsideBench: string[] } {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  return {
    commit: git(['rev-parse', 'HEAD']).trim(),
    changedOutsideBench: git(['status', '--porcelain']).split('\n').map((l) => l.slice(3)).filter((f) => f !== '' && !f.startsWith('bench/')),
  };
}

/** Starts one agent per node (`--hub-url NODE_URL`) and waits until the store has each on its node. */
async function agentsOnEachNode(c: TestCluster, echoPort: number): Promise<{ deviceOf: string[]; agents: Proc[] }> {
  const deviceOf = c.nodes.map((nd) => `agent-${nd.id}`);
  const agents: Proc[] = [];
  for (const [k, nd] of c.nodes.entries()) agents.push(await startAgent(c.handle, deviceOf[k] as string, [`echo=127.0.0.1:${echoPort}`], ['--hub-url', nd.url]));
  // Each agent's node records it in the store just after the agent says it is connected.
  const db = new pg.Client({ connectionString: c.storeUrl });
  await db.connect();
  try {
    const until = Date.now() + 10_000;
    for (;;) {
      const where = (await db.query<{ device_id: string; connected_node: string | null }>('SELECT device_id, connected_node FROM devices WHERE device_id = ANY($1)', [deviceOf])).rows;
      const nodeOf = (d: string): string | null | undefined => where.find((r) => r.device_id === d)?.connected_node;
      const wrong = deviceOf.findIndex((d, k) => nodeOf(d) !== c.nodes[k]?.id);
      if (wrong < 0) return { deviceOf, agents };
      if (Date.now() > until) throw new Error(`${deviceOf[wrong]} should be held by ${c.nodes[wrong]?.id}, the store says ${String(nodeOf(deviceOf[wrong] as string))}`);
      await sleep(100);
    }
  } finally {
    await db.end();
  }
}

/** Each node stopped (SIGTERM; SIGKILL after 30 s) and started again on its port; haproxy's checks see it back. */
async function restartNodes(c: TestCluster, stops: NodeStop[]): Promise<ClusterNode[]> {
  const started: ClusterNode[] = [];
  for (const [k, nd] of c.nodes.entries()) {
    const from = Date.now();
    nd.proc.kill('SIGTERM');
    if (!(await Promise.race([nd.proc.exited.then(() => true), sleep(30_000).then(() => false)]))) {
      nd.proc.kill('SIGKILL');
      await nd.proc.exited;
    }
    started.push(await c.restart(k));
    stops.push({ node: nd.id, from, to: Date.now() });
  }
  await balancerSeesAllUp(c);
  return started;
}

const failedRows = (what: string, err: unknown): Row[] => [{ bench: 'cluster', metric: `${what}: did not complete`, project: describeError(err, 100), comparison: '', ratio: '', target: '', status: 'FAILED' }];
const errorText = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));

export async function cluster(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const s = ctx.sizes;
  const idleN = s.clusterIdleDevices;
  const registryN = Math.max(s.clusterRegistryDevices, idleN);
  const plan = await planBalancer(idleN + 1000);
  progress(`cluster: balancer: ${plan.note}`);
  const t0 = nowMs();
  const c = await startTestCluster({
    nodes: NODES,
    // The product's heartbeat (the fixture's 1 s is for tests; the later flag wins) and limits
    // above what the concurrent phase opens, as concurrent.ts gives its hub.
    args: ['--heartbeat-interval', '15', '--max-streams-per-device', '2000', '--max-streams', '5000', '--max-initiations', '5000'],
    env: { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD },
    // The README's deployment: health checks every 2 s (the fixture's 500 ms is for tests; on two
    // busy cores a node answers /readyz late now and then, and haproxy would take it out).
    lb: { maxconn: plan.maxconnEach, processes: plan.processes, checkIntervalMs: CHECK_INTERVAL_MS, extraPorts: plan.extraPorts, ...(plan.nofile === undefined ? {} : { nofile: plan.nofile }) },
    ...(ctx.profile ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir] } : {}),
  });
  const startMs = nowMs() - t0;
  const nodePids = new Map<number, string>(c.nodes.map((nd) => [nd.proc.pid, nd.id]));
  const allNodeProcs = c.nodes.map((nd) => nd.proc);
  /** Nodes the benchmark stopped and started again (a reaper declaring them gone meanwhile is right). */
  const stops: NodeStop[] = [];
  progress(`cluster: ${NODES} nodes, PostgreSQL, NATS and ${c.lb.procs.length} haproxy process(es) up in ${fmtMs(startMs)}; balancer ${c.handle.url}`);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = { nodes: NODES, balancer: { ...plan, port: c.lb.port, checkIntervalMs: CHECK_INTERVAL_MS }, startMs, tree: workingTree() };
  const windows: Record<string, { fromMs: number; toMs: number }> = {};
  const errors: string[] = [];
  const direct = c.nodes.map((nd) => createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: nd.url }));
  // Each node's longest event-loop delay since the last scrape (prom-client's histogram restarts at
  // every scrape of /metrics, so one scrape before and one after bound the phase).
  const lagMaxMs = async (): Promise<Record<string, number>> => {
    const lags = await Promise.all(direct.map((d) => gaugesOf(d).then((g) => Math.round(1000 * g.eventLoopLagMaxSeconds), () => Number.NaN)));
    return Object.fromEntries(c.nodes.map((nd, k) => [nd.id, lags[k] ?? Number.NaN]));
  };
  // Runs a phase; records its rows, raw figures and windows, and what the cluster said meanwhile
  // (nodes declared gone, haproxy taking nodes out, event-loop delays). A failed phase is a row.
  const phase = async (name: string, run: () => Promise<PhaseResult>): Promise<void> => {
    const t = nowMs();
    const e0 = clusterEvents(allNodeProcs, c.lb.procs, stops);
    await lagMaxMs();
    try {
      const r = await run();
      const e1 = clusterEvents(allNodeProcs, c.lb.procs, stops);
      const meanwhile = {
        nodesDeclaredGone: e1.nodeDeclaredGone.length - e0.nodeDeclaredGone.length,
        balancerTookNodesOut: e1.balancerDown.length - e0.balancerDown.length,
        eventLoopDelayMaxMs: await lagMaxMs(),
      };
      progress(`cluster/${name}: meanwhile ${JSON.stringify(meanwhile)}`);
      rows.push(...r.rows);
      Object.assign(windows, r.windows);
      raw[name] = { ...r.raw, durationMs: nowMs() - t, meanwhile };
    } catch (err) {
      progress(`cluster/${name} FAILED: ${describeError(err)}`);
      rows.push(...failedRows(name, err));
      errors.push(`${name}: ${errorText(err)}`);
      raw[name] = { error: describeError(err), durationMs: nowMs() - t };
    }
  };

  try {
    const seeded = await seedRegistry(c.storeUrl, registryN, idleN);
    progress(`cluster: ${registryN} devices seeded into PostgreSQL in ${fmtMs(seeded.ms)} (SQL, batches of ${SEED_BATCH}, then ANALYZE)`);
    raw.seed = { devices: registryN, ms: seeded.ms, batch: SEED_BATCH };

    await phase('registry', () => registryPhase(c, registryN, s.clusterQueries));

    // One device per node for setup and concurrent: its agent connects to that node directly.
    const echo = await startEchoServer();
    const { deviceOf, agents } = await agentsOnEachNode(c, echo.port);
    await phase('setup', () => setupPhase(direct, deviceOf, s.clusterSetups));

    const cpuProcs = (): Record<string, number[]> => ({
      ...Object.fromEntries(c.nodes.map((nd) => [nd.id, [nd.proc.pid]])),
      haproxy: c.lb.procs.map((p) => p.pid),
      postgres: [c.pg.proc().pid],
      nats: [c.nats.proc().pid],
    });
    const errorLines = (p: Proc): string => p.output().split('\n').filter((l) => /error|lost|1006|1011|drop|timeout|timed out|could not|refusing/i.test(l)).slice(-20).join('\n');
    await phase('concurrent', () =>
      concurrentPhase({
        c,
        lbClient: createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: c.handle.url }),
        direct,
        deviceOf,
        cpuProcs: { ...cpuProcs(), agents: agents.map((a) => a.pid), echoServer: [echo.proc.pid] },
        logsOf: () => ({
          ...Object.fromEntries(c.nodes.map((nd) => [nd.id, errorLines(nd.proc)])),
          ...Object.fromEntries(agents.map((a, k) => [`agent-${k + 1}`, errorLines(a)])),
        }),
      }, s.clusterStreams, s.concurrentBytes),
    );

    // Fresh nodes for the memory figure (as idle.ts restarts its hub): the agents and echo server go.
    for (const p of [...agents, echo.proc]) p.kill('SIGTERM');
    await Promise.all([...agents, echo.proc].map((p) => p.exited));
    for (const nd of await restartNodes(c, stops)) {
      nodePids.set(nd.proc.pid, nd.id);
      allNodeProcs.push(nd.proc);
    }
    await phase('idle', () => idlePhase(ctx, { c, direct, keys: seeded.keys, extraPorts: plan.extraPorts, cpuProcs }, idleN));
  } catch (err) {
    rows.push(...failedRows('cluster', err));
    errors.push(errorText(err));
  } finally {
    const events = clusterEvents(allNodeProcs, c.lb.procs, stops);
    raw.events = events;
    rows.push({ bench: 'cluster', metric: 'live nodes declared gone by another node (lease lapsed under load)', project: String(events.nodeDeclaredGone.length), comparison: '', ratio: '', target: 'none', status: status(events.nodeDeclaredGone.length === 0) });
    rows.push({ bench: 'cluster', metric: `haproxy health checks taking a node out (checks every ${CHECK_INTERVAL_MS / 1000} s; restarts before idle included)`, project: String(events.balancerDown.length), comparison: '', ratio: '', target: 'reported', status: 'info' });
    if (events.nodeDeclaredGone.length > 0) progress(`cluster: nodes declared gone while running: ${events.nodeDeclaredGone.join(' | ')}`);
    if (events.stoppedNodeReaped.length > 0) progress(`cluster: nodes the benchmark restarted, reaped while stopped (not counted): ${events.stoppedNodeReaped.join(' | ')}`);
    if (ctx.profile) {
      // --cpu-prof writes its profile at exit: stop the nodes gently and wait (stopAll would SIGKILL).
      for (const nd of c.nodes) nd.proc.kill('SIGTERM');
      await Promise.all(c.nodes.map((nd) => Promise.race([nd.proc.exited, sleep(60_000)])));
      raw.phaseWindowsMonotonicMs = windows;
      raw.profilesByPhase = profilesByPhase(ctx.profileDir, nodePids, windows, t0 - 1000);
    }
  }

  return {
    name: 'cluster',
    description: `${NODES} nodes (PostgreSQL, NATS, haproxy): ${registryN} registered devices (registry pages and searches), stream setup on the device's node vs across nodes, ${s.clusterStreams} concurrent streams through the balancer, ${idleN} idle devices through the balancer`,
    rows,
    raw,
    ...(errors.length > 0 ? { error: errors.join('\n\n') } : {}),
  };
}
