/**
 * The balancer of the cluster benchmark: how many haproxy processes and ports the idle devices
 * need on this machine, and what haproxy and the nodes said about each other while it ran.
 */
import { execFileSync } from 'node:child_process';
import type { TestCluster } from '../../../test/fixtures/cluster.js';
import { freePort, sleep, type Proc } from '../../../test/harness.js';
import { describeError, openFileLimits } from '../../lib/util.js';

/** haproxy's health checks, as the README's deployment runs them. */
export const CHECK_INTERVAL_MS = 2000;

/**
 * Connections from 127.0.0.1 to one address and port, at most, before another port is needed:
 * each takes one of the ~28,000 ephemeral ports (32768–60999), and sockets left in TIME_WAIT by
 * the earlier phases still hold some.
 */
const CONNECTIONS_PER_PORT = 20_000;

export interface BalancerPlan {
  processes: number;
  maxconnEach: number;
  nofile: number | undefined;
  /** More ports the balancer listens on besides its first (see CONNECTIONS_PER_PORT). */
  extraPorts: number[];
  note: string;
}

/**
 * haproxy needs about two descriptors per connection. Asked for: one haproxy under
 * `prlimit --nofile=200000:200000` with a maxconn for every connection. Raising a hard limit needs
 * CAP_SYS_RESOURCE; where even root lacks it (containers), several haproxy processes with the same
 * configuration share the port (haproxy binds with SO_REUSEPORT, the kernel spreads connections,
 * not quite evenly: each process is planned at three quarters of its maxconn).
 */
export async function planBalancer(connections: number): Promise<BalancerPlan> {
  const extraPorts = await Promise.all(Array.from({ length: Math.ceil(connections / CONNECTIONS_PER_PORT) - 1 }, () => freePort()));
  const ports = `${1 + extraPorts.length} port(s)`;
  const own = openFileLimits('self');
  const need = 2 * connections + 2000;
  if (need <= own.soft) return { processes: 1, maxconnEach: connections + 1000, nofile: undefined, extraPorts, note: `one haproxy, ${ports} (open-file limit ${own.soft} is enough)` };
  const want = Math.max(200_000, need);
  try {
    execFileSync('prlimit', [`--nofile=${want}:${want}`, 'true'], { stdio: 'pipe' });
    return { processes: 1, maxconnEach: connections + 1000, nofile: want, extraPorts, note: `one haproxy under prlimit --nofile=${want}, ${ports}` };
  } catch (err) {
    const why = err instanceof Error && 'stderr' in err ? String((err as { stderr: unknown }).stderr).trim() : describeError(err);
    const maxconnEach = Math.min(9000, Math.floor((own.soft - 1000) / 2));
    const processes = Math.ceil(connections / Math.floor(maxconnEach * 0.75));
    return {
      processes,
      maxconnEach,
      nofile: undefined,
      extraPorts,
      note: `open-file hard limit ${own.hard} cannot be raised here (${why || 'prlimit failed'}): ${processes} haproxy processes, same configuration, maxconn ${maxconnEach} each, sharing ${ports} through SO_REUSEPORT`,
    };
  }
}

export interface ClusterEvents {
  /** Log lines of nodes that declared a live node gone (its NATS lease lapsed). */
  nodeDeclaredGone: string[];
  /** The same about a node the benchmark itself had stopped (restarted), while it was down: right, not counted. */
  stoppedNodeReaped: string[];
  /** haproxy taking a node out after failed checks. */
  balancerDown: string[];
  balancerUp: number;
}

/** A node the benchmark stopped at `from` (epoch ms) and had running again at `to`. */
export interface NodeStop {
  node: string;
  from: number;
  to: number;
}

/** What the cluster said about itself so far, from the processes' output. */
export function clusterEvents(nodeProcs: Proc[], lb: Proc[], stops: readonly NodeStop[] = []): ClusterEvents {
  const lines = (procs: Proc[], re: RegExp): string[] => procs.flatMap((p) => p.output().split('\n').filter((l) => re.test(l)));
  // "2026-11-30T10:26:49.199Z cluster: node node-1 is gone (no lease …": gone while the benchmark had it stopped?
  const whileStopped = (line: string): boolean => {
    const m = /^(\S+Z) cluster: node (\S+) is gone/.exec(line);
    const at = m === null ? Number.NaN : Date.parse(m[1] as string);
    // A second of slack past its READY: the reaper may have read the bucket just before the new lease.
    return m !== null && stops.some((s) => s.node === m[2] && at >= s.from && at <= s.to + 1000);
  };
  const gone = lines(nodeProcs, /is gone \(no lease/).map((l) => l.slice(0, 200));
  return {
    nodeDeclaredGone: gone.filter((l) => !whileStopped(l)),
    stoppedNodeReaped: gone.filter(whileStopped),
    balancerDown: lines(lb, /is DOWN/).map((l) => l.replace(/^.*Server /, '').slice(0, 160)),
    balancerUp: lines(lb, /is UP/).length,
  };
}

/**
 * After nodes restarted: waits until every haproxy process has every node back (as many "is UP"
 * as "is DOWN" lines per node; a node that restarted between two checks may never have been
 * taken out), at least two check intervals after the last restart.
 */
export async function balancerSeesAllUp(c: TestCluster): Promise<void> {
  await sleep(2 * CHECK_INTERVAL_MS + 500);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const down = c.lb.procs.some((p) => c.nodes.some((nd) => {
      const text = p.output();
      const count = (re: RegExp): number => text.match(re)?.length ?? 0;
      return count(new RegExp(`nodes/${nd.id} is DOWN`, 'g')) > count(new RegExp(`nodes/${nd.id} is UP`, 'g'));
    }));
    if (!down) return;
    if (Date.now() > deadline) throw new Error('haproxy did not bring every node back within 30 s of their restart');
    await sleep(250);
  }
}
