/**
 * Small helpers shared by the benchmarks: statistics, formatting, ports, resident memory sampling
 * and running a tracked child process to completion.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { rssOf, sleep, spawnProc, type Proc } from '../../test/harness.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** The q-quantile (0..1) of `values` by the nearest-rank method; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (abs >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (abs >= KiB) return `${(n / KiB).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function fmtRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(0)} ms`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a';
}

/** The percentiles a latency figure is reported with. */
export function percentiles(v: readonly number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  return { n: v.length, p50: quantile(v, 0.5), p90: quantile(v, 0.9), p99: quantile(v, 0.99), max: quantile(v, 1) };
}

/** The first line of an error's message, cut to `max` characters (for counting errors by kind). */
export function describeError(err: unknown, max = 160): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '').slice(0, max) : String(err).slice(0, max);
}

/** A sample from Prometheus text (a hub's /metrics), with or without labels; NaN when absent. */
export function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** Milliseconds since an arbitrary origin, with sub-millisecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export { freePort } from '../../test/harness.js';

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (the probe is closed at once). */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface RunResult {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a program as a harness-tracked process (stopped by pid on abort) and waits for its exit. */
export async function runTracked(file: string, args: string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<RunResult> {
  const t0 = nowMs();
  const proc = spawnProc(file, args, env);
  proc.child.stdin?.end();
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output(), ms: nowMs() - t0 };
}

/** Samples the resident memory of some processes every `intervalMs` until stopped. */
export class RssSampler {
  readonly #procs: Record<string, Proc>;
  readonly #max: Record<string, number> = {};
  readonly #timer: NodeJS.Timeout;
  readonly samples: Array<{ t: number; rss: Record<string, number> }> = [];
  readonly #t0 = Date.now();

  constructor(procs: Record<string, Proc>, intervalMs = 200) {
    this.#procs = procs;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const rss: Record<string, number> = {};
    for (const [name, p] of Object.entries(this.#procs)) {
      let v: number;
      try {
        v = rssOf(p.pid);
      } catch {
        v = 0;
      }
      rss[name] = v;
      this.#max[name] = Math.max(this.#max[name] ?? 0, v);
    }
    this.samples.push({ t: Date.now() - this.#t0, rss });
  }

  stop(): Record<string, number> {
    clearInterval(this.#timer);
    this.#sample();
    return { ...this.#max };
  }
}

/** The median of a few RSS readings `gapMs` apart (one reading jitters with the allocator). */
export async function steadyRss(pid: number, readings = 5, gapMs = 200): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < readings; i++) {
    v.push(rssOf(pid));
    if (i < readings - 1) await sleep(gapMs);
  }
  return median(v);
}

/** Logs a progress line to stderr (the table and JSON go to stdout). */
export function progress(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** CPU time (user + system, ms) a process and its live descendants have used so far (Linux /proc). */
export function cpuMsOf(pid: number): number {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return 0;
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(e), Number(f[1]));
      // utime, stime, and the children's that have been waited for (cutime, cstime).
      ticks.set(Number(e), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [p, t] of ticks) {
    for (let q: number | undefined = p, depth = 0; q !== undefined && q > 0 && depth < 50; q = parents.get(q), depth++) {
      if (q === pid) {
        total += t;
        break;
      }
    }
  }
  return (total * 1000) / CLOCK_TICKS;
}

const CLOCK_TICKS = 100;

/** The soft and hard open-file limits of a process (Linux /proc). */
export function openFileLimits(pid: number | 'self'): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const v = (s: string | undefined): number => (s === undefined ? 0 : s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: v(m?.[1]), hard: v(m?.[2]) };
}

/** Pids of the direct children of `ppid` whose command line matches `re` (Linux /proc). */
export function childPids(ppid: number, re: RegExp): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      if (re.test(readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' '))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
