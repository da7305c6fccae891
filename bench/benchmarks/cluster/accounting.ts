/**
 * Where the time went in the cluster benchmark: CPU per process and of the whole machine (so the
 * share of other work on a shared machine is visible), where the nodes' main threads sleep, and
 * the nodes' CPU profiles cut to each measured phase.
 */
import { readFileSync } from 'node:fs';
import { formatProfile, newProfiles, summarizeProfile, type ProfileSummary } from '../../lib/profile.js';
import { cpuMsOf, nowMs } from '../../lib/util.js';

/** CPU time the whole machine spent busy so far (all cores; /proc/stat, user+nice+system+irq+softirq+steal). */
function machineBusyMs(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (f[i] ?? 0), 0);
  return (busy * 1000) / 100;
}

/**
 * CPU ms of each named group of processes (and their descendants) between this call and the call
 * of the function it returns; also `benchProcess` (this process), `benchTree` (this process and
 * everything it started), `machine` (every core, everything) and `otherWork` (the machine minus
 * the bench: other work on a shared machine).
 */
export function cpuMeter(procs: Record<string, number[]>): () => Record<string, number> {
  const read = (): Record<string, number> => Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, pids.reduce((s, p) => s + cpuMsOf(p), 0)]));
  const before = read();
  const self0 = process.cpuUsage();
  const tree0 = cpuMsOf(process.pid);
  const machine0 = machineBusyMs();
  return () => {
    const after = read();
    const self = process.cpuUsage(self0);
    const out: Record<string, number> = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round(v - (before[k] ?? 0))]));
    out.benchProcess = Math.round((self.user + self.system) / 1000);
    out.benchTree = Math.round(cpuMsOf(process.pid) - tree0);
    out.machine = Math.round(machineBusyMs() - machine0);
    out.otherWork = Math.max(0, out.machine - out.benchTree);
    return out;
  };
}

/**
 * Where each process's main thread is, sampled every 20 ms (Linux /proc/PID/wchan: the kernel
 * function it sleeps in; "running" when on a CPU or runnable): an epoll wait is an idle event
 * loop, "anon_pipe_write" a write to a full pipe (its log to stdout, read by this process) that
 * blocks the whole event loop. Returns ms per state per process when stopped.
 */
export function wchanSampler(pids: Record<string, number>): () => Record<string, Record<string, number>> {
  const tally: Record<string, Record<string, number>> = {};
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      let w: string;
      try {
        w = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
      } catch {
        continue;
      }
      const key = w === '0' || w === '' ? 'running' : w;
      const t = (tally[name] ??= {});
      t[key] = (t[key] ?? 0) + 20;
    }
  }, 20);
  return () => {
    clearInterval(timer);
    return tally;
  };
}

/** "12.3 s of 30.1 s (41 %)": the machine's busy CPU time that was not this benchmark's. */
export function fmtOther(c: Record<string, number>): string {
  const other = c.otherWork ?? 0;
  const machine = c.machine ?? 0;
  return `${(other / 1000).toFixed(1)} s of ${(machine / 1000).toFixed(1)} s (${machine > 0 ? ((100 * other) / machine).toFixed(0) : '?'} %)`;
}

export function fmtCpu(c: Record<string, number>): string {
  return Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
}

/**
 * Each node's CPU profile (`--cpu-prof` files in `dir` written since `sinceMonotonicMs`, the node
 * told by its pid) cut to each measured span, printed and returned for the JSON.
 */
export function profilesByPhase(
  dir: string,
  pids: ReadonlyMap<number, string>,
  windows: Record<string, { fromMs: number; toMs: number }>,
  sinceMonotonicMs: number,
): Array<{ phase: string; node: string; summary: ProfileSummary }> {
  const since = Date.now() - (nowMs() - sinceMonotonicMs);
  const out: Array<{ phase: string; node: string; summary: ProfileSummary }> = [];
  for (const file of newProfiles(dir, since)) {
    const pid = Number(/\.(\d+)\.0\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const node = pids.get(pid);
    if (node === undefined) continue;
    for (const [phase, w] of Object.entries(windows)) {
      const summary = summarizeProfile(file, 12, w);
      if (summary.totalMs < 1) continue;
      out.push({ phase, node, summary });
      process.stderr.write(`cluster: ${node} (pid ${pid}) during ${phase}, ${(summary.busyMs / 1000).toFixed(2)} s busy of ${((w.toMs - w.fromMs) / 1000).toFixed(2)} s\n${formatProfile(summary)}\n`);
    }
  }
  return out;
}
