/**
 * The cluster benchmark's concurrent phase: as `concurrent`, N streams initiated at once through
 * the balancer to one device per node, then data on all of them at once, SHA-256 checked. Which
 * node took each initiation is read from the stream log in the store; beside it, the same N
 * initiated directly at each device's own node (none crossing).
 */
import { availableParallelism } from 'node:os';
import pg from 'pg';
import type { ServiceClient } from '../../../server/sdk/service-client.js';
import type { TestCluster } from '../../../test/fixtures/cluster.js';
import { sleep } from '../../../test/harness.js';
import { status, type PhaseResult } from '../../lib/result.js';
import { describeError, fmtBytes, fmtMs, fmtRatio, fmtRate, nowMs, progress } from '../../lib/util.js';
import { exchange, exchangeAll, openAtOnce, payloads, tally } from '../concurrent.js';
import { cpuMeter, fmtCpu, fmtOther, wchanSampler } from './accounting.js';

const TARGET_INITIATIONS_PER_SECOND = 300;
const OPTS = { connectTimeoutSeconds: 30, responseTimeoutSeconds: 30 };

export interface ConcurrentSetup {
  c: TestCluster;
  /** A client of the balancer, and one of each node directly. */
  lbClient: ServiceClient;
  direct: ServiceClient[];
  /** The device node k holds. */
  deviceOf: string[];
  /** The processes whose CPU is counted, by name. */
  cpuProcs: Record<string, number[]>;
  /** The nodes' and agents' log lines about errors, kept when streams broke. */
  logsOf: () => Record<string, string>;
}

/**
 * What the cluster's PostgreSQL sessions are doing, sampled every 200 ms while `run` runs: how many
 * are running a statement, waiting for a lock (and on which statement), or idle inside a
 * transaction (waiting for their node), on average per sample.
 */
async function sampleSessions<T>(storeUrl: string, run: () => Promise<T>): Promise<{ value: T; samples: number; averages: Record<string, number> }> {
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect();
  const seen: string[] = [];
  let samples = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      try {
        const { rows } = await db.query<{ state: string | null; wait: string | null; q: string | null }>(
          "SELECT state, wait_event_type || ':' || wait_event AS wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 48) AS q FROM pg_stat_activity WHERE application_name = 'devicestreams' AND pid <> pg_backend_pid()",
        );
        samples += 1;
        for (const r of rows) {
          if (r.state === 'idle') continue;
          seen.push(r.wait?.startsWith('Lock:') === true ? `waiting ${r.wait}: ${r.q ?? ''}` : r.state === 'active' ? 'running a statement' : `${r.state ?? '?'}`);
        }
      } catch {
        // a sample lost under load is fine
      }
      await sleep(200);
    }
  })();
  try {
    const value = await run();
    const averages = Object.entries(tally(seen)).sort((a, b) => b[1] - a[1]).map(([k, v]): [string, number] => [k, Number((v / Math.max(1, samples)).toFixed(2))]);
    return { value, samples, averages: Object.fromEntries(averages) };
  } finally {
    stop = true;
    await loop;
    await db.end();
  }
}

/**
 * From the stream log: which node took each initiation against the node holding its device, and
 * for the streams that broke, how the log says they ended.
 */
async function fromStreamLog(storeUrl: string, ids: string[], brokenIds: string[], nodeOfDevice: Record<string, string>): Promise<{ crossing: number; sameNode: number; carriedElsewhere: number; matrix: Record<string, number>; brokenEnds: Record<string, number> }> {
  const db = new pg.Client({ connectionString: storeUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ device_id: string; node: string; gateway_node: string | null }>('SELECT device_id, node, gateway_node FROM streams WHERE id = ANY($1)', [ids]);
    const crossing = rows.filter((r) => r.node !== nodeOfDevice[r.device_id]).length;
    const matrix = tally(rows.map((r) => `${r.node} → device on ${nodeOfDevice[r.device_id] ?? '?'}`));
    const carriedElsewhere = rows.filter((r) => r.gateway_node !== r.node).length;
    let brokenEnds: Record<string, number> = {};
    if (brokenIds.length > 0) {
      // The ends are written as the nodes learn of them; give them a moment.
      await sleep(2000);
      const ended = await db.query<{ result: string | null; closed_by: string | null; close_code: number | null; reason: string | null }>(
        'SELECT result, closed_by, close_code, reason FROM streams WHERE id = ANY($1)',
        [brokenIds],
      );
      brokenEnds = tally(ended.rows.map((r) => `${r.result ?? '-'} closedBy=${r.closed_by ?? '-'} code=${r.close_code ?? '-'} ${(r.reason ?? '').slice(0, 80)}`));
    }
    return { crossing, sameNode: rows.length - crossing, carriedElsewhere, matrix, brokenEnds };
  } finally {
    await db.end();
  }
}

/** `n` streams at once through the balancer, `size` bytes each way on each; then the none-crossing reference. */
export async function concurrentPhase(o: ConcurrentSetup, n: number, size: number): Promise<PhaseResult> {
  const { c, lbClient, direct, deviceOf, cpuProcs } = o;
  const { dataOf, expected } = payloads(n, size);
  const deviceFor = (i: number): string => deviceOf[i % deviceOf.length] as string;

  // Warm-up as in concurrent.ts: a batch at once through the balancer (REST connections to every
  // node, JIT of the paths on every node and agent), a little data each; not measured.
  const warm = await Promise.all(Array.from({ length: Math.min(n, 150) }, (_, i) => lbClient.initiateStream(deviceFor(i), 'echo', OPTS)));
  await Promise.all(warm.map((s, i) => exchange(s, dataOf(i).subarray(0, 4096))));
  for (const s of warm) s.destroy();
  await sleep(1000);

  progress(`cluster/concurrent: initiating ${n} streams at once through the balancer`);
  const wchan = wchanSampler(Object.fromEntries(c.nodes.map((nd) => [nd.id, nd.proc.pid])));
  const meter = cpuMeter(cpuProcs);
  const t0 = nowMs();
  const sampled = await sampleSessions(c.storeUrl, () => openAtOnce(n, (i) => lbClient.initiateStream(deviceFor(i), 'echo', OPTS)));
  const openCpuMs = meter();
  const opening = { fromMs: t0, toMs: nowMs() };
  const { streams, figures } = sampled.value;
  const rate = figures.initiationsPerSecond;
  progress(`cluster/concurrent: ${streams.length}/${n} open in ${fmtMs(figures.openMs)} (${rate.toFixed(0)}/s); CPU ms meanwhile: ${fmtCpu(openCpuMs)}`);
  progress(`cluster/concurrent: PostgreSQL sessions meanwhile (average per sample): ${JSON.stringify(sampled.averages)}`);

  const t1 = nowMs();
  const dataMeter = cpuMeter(cpuProcs);
  const { intact, dataMs, broken } = await exchangeAll(streams, dataOf, expected);
  const dataCpuMs = dataMeter();
  const carrying = { fromMs: t1, toMs: nowMs() };
  const nodeThreads = wchan();
  progress(`cluster/concurrent: nodes' main threads while opening and carrying data (ms): ${JSON.stringify(nodeThreads)}`);
  const moved = 2 * size * streams.length;
  progress(`cluster/concurrent: ${intact}/${n} intact, ${fmtBytes(moved)} in ${fmtMs(dataMs)}; CPU ms meanwhile: ${fmtCpu(dataCpuMs)}`);

  const nodeOfDevice = Object.fromEntries(deviceOf.map((d, k) => [d, c.nodes[k]?.id ?? '']));
  const brokenIds = broken.map((b) => b.s.streamId ?? '');
  const log = await fromStreamLog(c.storeUrl, streams.map(({ s }) => s.streamId ?? ''), brokenIds, nodeOfDevice);
  const known = log.crossing + log.sameNode;
  const share = log.crossing / Math.max(1, known);
  progress(`cluster/concurrent: ${log.crossing}/${known} initiations crossed nodes (${(100 * share).toFixed(1)} %)`);
  if (brokenIds.length > 0) progress(`cluster/concurrent: the stream log on the broken streams: ${JSON.stringify(log.brokenEnds)}`);
  const logs = intact < n ? o.logsOf() : undefined;

  // Reference: the same number initiated at once directly at each device's own node (none crossing),
  // opened and closed without data, to tell the cost of crossing from the cost of the cluster.
  await sleep(2000);
  const t2 = nowMs();
  const refMeter = cpuMeter(cpuProcs);
  const ref = await Promise.allSettled(Array.from({ length: n }, (_, i) => (direct[i % direct.length] as ServiceClient).initiateStream(deviceFor(i), 'echo', OPTS)));
  const refMs = nowMs() - t2;
  const refCpuMs = refMeter();
  const refOpened = ref.filter((r) => r.status === 'fulfilled').length;
  for (const r of ref) if (r.status === 'fulfilled') r.value.destroy();
  const refRate = refOpened / (refMs / 1000);
  progress(`cluster/concurrent: reference, none crossing (direct to each device's node): ${refOpened}/${n} open in ${fmtMs(refMs)} (${refRate.toFixed(0)}/s); CPU ms: ${fmtCpu(refCpuMs)}`);

  // What the machine can do at this cost: every core busy with nothing but initiations.
  const cpuPerInitiation = (openCpuMs.benchTree ?? Number.NaN) / Math.max(1, streams.length);
  const cores = availableParallelism();
  return {
    rows: [
      { bench: 'cluster', metric: `initiations per second (${n} at once via balancer, ${(100 * share).toFixed(0)} % crossing nodes)`, project: `${rate.toFixed(0)}/s`, comparison: `${refRate.toFixed(0)}/s none crossing`, ratio: fmtRatio(rate / refRate), target: `≥ ${TARGET_INITIATIONS_PER_SECOND}/s`, status: status(rate >= TARGET_INITIATIONS_PER_SECOND && streams.length === n) },
      { bench: 'cluster', metric: `concurrent streams intact (${fmtBytes(size)} each way, SHA-256)`, project: `${intact}/${n}`, comparison: '', ratio: '', target: 'all intact', status: status(intact === n) },
      { bench: 'cluster', metric: 'initiations that crossed nodes (initiating node ≠ device\'s node, from the store)', project: `${log.crossing}/${known} (${(100 * share).toFixed(1)} %)`, comparison: '', ratio: '', target: '≈ 2/3', status: 'info' },
      { bench: 'cluster', metric: 'aggregate payload rate while all carry data', project: fmtRate(moved / (dataMs / 1000)), comparison: '', ratio: '', target: 'reported', status: 'info' },
      { bench: 'cluster', metric: 'CPU per initiation while opening, all processes of the benchmark (nodes, PostgreSQL, NATS, haproxy, agents, client)', project: `${fmtMs(cpuPerInitiation)}`, comparison: `${(1000 * cores / cpuPerInitiation).toFixed(0)}/s on ${cores} cores at that cost`, ratio: '', target: 'reported', status: 'info' },
      { bench: 'cluster', metric: 'busy CPU of other work on the machine: opening / carrying data', project: `${fmtOther(openCpuMs)} / ${fmtOther(dataCpuMs)}`, comparison: '', ratio: '', target: 'reported', status: 'info' },
    ],
    raw: {
      streams: n,
      bytesEachWay: size,
      ...figures,
      openCpuMs,
      cpuMsPerInitiation: cpuPerInitiation,
      postgresSessionsWhileOpening: { samples: sampled.samples, averageSessions: sampled.averages },
      crossing: log.crossing,
      sameNode: log.sameNode,
      crossingShare: share,
      initiatingNodeByDeviceNode: log.matrix,
      carriedByAnotherNodeThanInitiating: log.carriedElsewhere,
      intact,
      dataMs,
      dataCpuMs,
      aggregateBytesPerSecond: moved / (dataMs / 1000),
      dataErrors: tally(broken.map((b) => b.why)),
      nodeMainThreadMs: nodeThreads,
      brokenStreamsInTheLog: log.brokenEnds,
      referenceNoneCrossing: { opened: refOpened, openMs: refMs, initiationsPerSecond: refRate, cpuMs: refCpuMs, errors: ref.flatMap((r) => (r.status === 'rejected' ? [describeError(r.reason)] : [])).slice(0, 10) },
      ...(logs === undefined ? {} : { logs }),
    },
    windows: { 'concurrent: opening': opening, 'concurrent: data': carrying },
  };
}
