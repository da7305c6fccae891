/**
 * `npm run bench [-- --quick] [-- --only NAME[,NAME]] [-- --rounds N] [-- --profile]`
 *
 * Runs the benchmarks one after another; each starts what it needs (hub, agent, proxy, sshd, …)
 * as real processes on loopback and stops every one of them by pid when it ends (also on errors
 * and Ctrl-C). Prints a table and writes it, with the machine description and the raw figures, to
 * bench/results/latest.json. See bench/README.md for what each figure means.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stopAll } from '../test/harness.js';
import { bulk } from './benchmarks/bulk.js';
import { cluster } from './benchmarks/cluster.js';
import { concurrent } from './benchmarks/concurrent.js';
import { resume } from './benchmarks/resume.js';
import { history } from './benchmarks/history.js';
import { echo } from './benchmarks/echo.js';
import { files } from './benchmarks/files.js';
import { closeBrowsers, flood } from './benchmarks/flood.js';
import { idle } from './benchmarks/idle.js';
import { loopback } from './benchmarks/loopback.js';
import { setup } from './benchmarks/setup.js';
import { slowReader } from './benchmarks/slow-reader.js';
import { formatProfile, newProfiles, summarizeProfile, type ProfileSummary } from './lib/profile.js';
import type { BenchContext, BenchResult, Row, Sizes } from './lib/result.js';
import { stopProfiledHubs } from './lib/stack.js';
import { GiB, MiB, progress } from './lib/util.js';

type Bench = (ctx: BenchContext) => Promise<Omit<BenchResult, 'durationSeconds'>>;

const BENCHES: Record<string, Bench> = {
  loopback,
  bulk,
  files,
  echo,
  setup,
  concurrent,
  idle,
  'slow-reader': slowReader,
  flood,
  resume,
  history,
  cluster,
};

const HELP = `
Usage: npm run bench [-- options]

Benchmarks of DeviceStreams against their comparisons (see bench/README.md). Default: the full
sizes of the issue (1 GiB bulk each way, 1,000 concurrent streams, 10,000 idle devices, 50 MB flood;
cluster: 30,000 idle devices, 1,000 concurrent streams, 100,000 registered devices).

Options:
  --quick            small sizes (256 MiB bulk, 200 echo samples, 100 setups, 200 concurrent streams,
                     1,000 idle devices, 10 s slow reader, 10 MB flood; cluster: 3,000 idle devices,
                     300 concurrent streams, 60 setups each way, 60 registry rounds)
  --only NAME[,NAME] run a subset: ${Object.keys(BENCHES).join(', ')}
  --rounds N         A/B rounds for the alternating benchmarks (default 3)
  --profile          run the hubs under node --cpu-prof and print their hot spots
  --out FILE         where to write the JSON (default bench/results/latest.json for a full run
                     of every benchmark, bench/results/partial.json for --quick or --only runs,
                     so the README's full figures are not overwritten by a partial run)
  -h, --help         this help
`;

interface Args {
  quick: boolean;
  only: string[];
  rounds: number;
  profile: boolean;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: [], rounds: 3, profile: false, out: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(HELP.trimStart());
      process.exit(0);
    } else if (arg === '--quick') a.quick = true;
    else if (arg === '--profile') a.profile = true;
    else if (arg === '--only') a.only.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg.startsWith('--only=')) a.only.push(...arg.slice(7).split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg === '--rounds') a.rounds = Number(value());
    else if (arg === '--out') a.out = value();
    else throw new Error(`unknown option ${arg} (see --help)`);
  }
  if (a.out === '') a.out = join(import.meta.dirname, 'results', a.quick || a.only.length > 0 ? 'partial.json' : 'latest.json');
  for (const name of a.only) if (!(name in BENCHES)) throw new Error(`--only: no benchmark "${name}" (have: ${Object.keys(BENCHES).join(', ')})`);
  if (!Number.isInteger(a.rounds) || a.rounds < 1 || a.rounds > 50) throw new Error('--rounds must be a whole number from 1 to 50');
  return a;
}

function sizes(a: Args): Sizes {
  const common = { rounds: a.rounds, concurrentBytes: MiB, slowRateBytesPerSecond: MiB };
  return a.quick
    ? {
        ...common, quick: true, bulkBytes: 256 * MiB, echoSamples: 200, setups: 100, concurrentStreams: 200, idleDevices: 1000, slowSeconds: 10, floodRawBytes: 7_500_000,
        resumeRestarts: 5, historyRecords: 1_000_000, clusterIdleDevices: 3000, clusterStreams: 300, clusterSetups: 60, clusterRegistryDevices: 100_000, clusterQueries: 60,
      }
    : {
        ...common, quick: false, bulkBytes: GiB, echoSamples: 2000, setups: 300, concurrentStreams: 1000, idleDevices: 10_000, slowSeconds: 20, floodRawBytes: 37_500_000,
        resumeRestarts: 15, historyRecords: 1_000_000, clusterIdleDevices: 30_000, clusterStreams: 1000, clusterSetups: 300, clusterRegistryDevices: 100_000, clusterQueries: 300,
      };
}

function machine(): Record<string, unknown> {
  const c = cpus();
  let openFiles: string;
  try {
    openFiles = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    openFiles = 'unknown';
  }
  // `ssh -V` prints its version on stderr.
  const sshV = spawnSync('/usr/bin/ssh', ['-V'], { encoding: 'utf8' });
  const ssh = `${sshV.stderr ?? ''}${sshV.stdout ?? ''}`.trim() || 'not installed';
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cpuMHz: c[0]?.speed ?? 0,
    cores: c.length,
    memoryBytes: totalmem(),
    memory: `${(totalmem() / GiB).toFixed(1)} GiB`,
    node: process.version,
    kernel: release(),
    openFileLimit: openFiles,
    ssh,
    loadAverageAtStart: loadavg(),
    date: new Date().toISOString(),
  };
}

/** Children inherit our open-file limit: 10,000 idle devices need more than 1,024 descriptors. */
function raiseOpenFileLimit(want: number): void {
  try {
    const cur = Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    if (Number.isFinite(cur) && cur >= want) return;
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch {
    progress(`could not raise the open-file limit to ${want} (prlimit); the idle benchmark may fail`);
  }
}

function table(rows: Row[]): string {
  const head = ['benchmark', 'metric', 'DeviceStreams', 'comparison', 'ratio', 'target', 'status'];
  const cells = rows.map((r) => [r.bench, r.metric, r.project, r.comparison, r.ratio, r.target, r.status]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

let aborting = false;
async function abort(signal: string): Promise<void> {
  if (aborting) return;
  aborting = true;
  // Connections the benchmark had open fail as their peers stop; that is expected now.
  process.on('unhandledRejection', () => undefined);
  process.stderr.write(`\n${signal}: stopping every process the benchmarks started…\n`);
  await closeBrowsers();
  await stopAll();
  process.exit(130);
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  process.once('SIGINT', () => void abort('SIGINT'));
  process.once('SIGTERM', () => void abort('SIGTERM'));
  raiseOpenFileLimit(16_384);

  const names = args.only.length > 0 ? Object.keys(BENCHES).filter((n) => args.only.includes(n)) : Object.keys(BENCHES);
  const ctx: BenchContext = {
    sizes: sizes(args),
    profile: args.profile,
    profileDir: args.profile ? mkdtempSync(join(tmpdir(), 'ds-bench-prof-')) : '',
  };
  const mach = machine();
  progress(`${args.quick ? 'quick' : 'full'} run of ${names.join(', ')} on ${String(mach.cpuModel)} × ${String(mach.cores)}, ${String(mach.memory)}, node ${process.version}`);
  const results: BenchResult[] = [];
  const profiles: Record<string, ProfileSummary[]> = {};
  const started = Date.now();
  for (const name of names) {
    const bench = BENCHES[name] as Bench;
    const t0 = Date.now();
    progress(`— ${name}`);
    let result: BenchResult;
    try {
      result = { ...(await bench(ctx)), durationSeconds: 0 };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      progress(`${name} FAILED: ${message}`);
      result = {
        name,
        description: '',
        rows: [{ bench: name, metric: 'did not complete', project: message.split('\n')[0]?.slice(0, 100) ?? '', comparison: '', ratio: '', target: '', status: 'FAILED' }],
        raw: {},
        durationSeconds: 0,
        error: err instanceof Error ? (err.stack ?? message) : message,
      };
    } finally {
      await stopProfiledHubs();
      await closeBrowsers();
      await stopAll();
    }
    if (aborting) return;
    result.durationSeconds = (Date.now() - t0) / 1000;
    if (ctx.profile) {
      const found = newProfiles(ctx.profileDir, t0).map((f) => summarizeProfile(f));
      profiles[name] = found;
      result.raw.profiles = found;
      for (const p of found) process.stderr.write(`${name}: hub CPU profile\n${formatProfile(p)}\n`);
    }
    results.push(result);
    progress(`${name} done in ${result.durationSeconds.toFixed(0)} s`);
  }

  const rows = results.flatMap((r) => r.rows);
  const machineLine = `machine: ${String(mach.cpuModel)}, ${String(mach.cores)} cores, ${String(mach.memory)} RAM, node ${process.version}, ${String(mach.date)}, load at start ${(mach.loadAverageAtStart as number[]).map((l) => l.toFixed(2)).join(' ')}`;
  process.stdout.write(`\n${machineLine}\nmode: ${args.quick ? 'quick' : 'full'}, ${args.rounds} rounds, ${((Date.now() - started) / 1000).toFixed(0)} s\n\n${table(rows)}\n\n`);
  const missed = rows.filter((r) => r.status === 'MISSED' || r.status === 'FAILED');
  if (missed.length > 0) process.stdout.write(`Targets missed or failed: ${missed.map((r) => `${r.bench} (${r.metric}): ${r.status}`).join('; ')}\n`);

  const json = {
    machine: { ...mach, loadAverageAtEnd: loadavg() },
    mode: args.quick ? 'quick' : 'full',
    rounds: args.rounds,
    only: args.only,
    sizes: ctx.sizes,
    profiled: args.profile,
    profileDir: ctx.profileDir || undefined,
    durationSeconds: (Date.now() - started) / 1000,
    table: rows,
    results,
  };
  mkdirSync(join(args.out, '..'), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`JSON: ${args.out}\n`);
  process.exitCode = results.some((r) => r.error !== undefined) ? 1 : 0;
}

await main();
