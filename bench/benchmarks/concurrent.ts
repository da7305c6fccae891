/**
 * Concurrent streams: N streams initiated at once (SDK, this process) to one device whose agent
 * maps "echo" to an echo server; once all are open, each carries 1 MiB each way at the same time
 * and both directions' SHA-256 are compared. Reports initiations per second (all N initiated at
 * once, until the last one is connected) and whether every stream came back intact.
 */
import { createHash, randomBytes } from 'node:crypto';
import { startEchoServer } from '../../test/harness.js';
import { createServiceClient, type ServiceStream } from '../../server/sdk/service-client.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startStack } from '../lib/stack.js';
import { cpuMsOf, describeError, fmtBytes, fmtMs, fmtRate, nowMs, progress, quantile } from '../lib/util.js';

const TARGET_INITIATIONS_PER_SECOND = 300;
const SLICE = 64 * 1024;

/**
 * Distinct data per stream without N MiB of random bytes: windows into one random pool of twice
 * `size`; and the SHA-256 each stream's echo must have.
 */
export function payloads(n: number, size: number): { dataOf: (i: number) => Buffer; expected: string[] } {
  const pool = randomBytes(size * 2);
  const dataOf = (i: number): Buffer => pool.subarray((i * 4099) % size, ((i * 4099) % size) + size);
  return { dataOf, expected: Array.from({ length: n }, (_, i) => createHash('sha256').update(dataOf(i)).digest('hex')) };
}

/** Writes `data` in 64 KiB slices honouring backpressure while reading back as many bytes. */
export function exchange(stream: ServiceStream, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let got = 0;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (err !== undefined) reject(err);
      else resolve(hash.digest('hex'));
    };
    stream.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
      if (got > data.length) finish(new Error(`received ${got} bytes, more than the ${data.length} sent`));
      else if (got === data.length) finish();
    });
    stream.once('error', (err) => finish(err));
    stream.once('close', () => finish(new Error(`closed after ${got} of ${data.length} bytes came back`)));
    let off = 0;
    const pump = (): void => {
      while (off < data.length) {
        const slice = data.subarray(off, off + SLICE);
        off += slice.length;
        if (!stream.write(slice)) {
          stream.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Counts of each distinct value (errors by kind). */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export interface OpenedAtOnce {
  /** The streams that opened, with the index they were initiated as. */
  streams: Array<{ i: number; s: ServiceStream }>;
  /** The raw figures: opened, openMs (first call → last stream connected), initiations per second, errors by kind. */
  figures: { opened: number; openMs: number; initiationsPerSecond: number; setupMsAtOnce: { p50: number; p99: number; max: number }; openErrors: Record<string, number> };
}

/** `n` streams initiated at once (`initiate(i)`); the clock runs from the first call to the last stream connected. */
export async function openAtOnce(n: number, initiate: (i: number) => Promise<ServiceStream>): Promise<OpenedAtOnce> {
  const setupMs: number[] = [];
  const t0 = nowMs();
  const opened = await Promise.allSettled(
    Array.from({ length: n }, async (_, i) => {
      const s = await initiate(i);
      setupMs.push(nowMs() - t0);
      return { i, s };
    }),
  );
  const openMs = nowMs() - t0;
  const streams = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  return {
    streams,
    figures: {
      opened: streams.length,
      openMs,
      initiationsPerSecond: streams.length / (openMs / 1000),
      setupMsAtOnce: { p50: quantile(setupMs, 0.5), p99: quantile(setupMs, 0.99), max: quantile(setupMs, 1) },
      openErrors: tally(opened.flatMap((o) => (o.status === 'rejected' ? [describeError(o.reason, 120)] : []))),
    },
  };
}

/**
 * Every stream carries its payload both ways at once; resolves with how many came back intact
 * (SHA-256 as expected), the time it took, and the broken ones with why.
 */
export async function exchangeAll(streams: OpenedAtOnce['streams'], dataOf: (i: number) => Buffer, expected: readonly string[]): Promise<{ intact: number; dataMs: number; broken: Array<{ i: number; s: ServiceStream; why: string }> }> {
  const t1 = nowMs();
  const results = await Promise.allSettled(streams.map(({ i, s }) => exchange(s, dataOf(i))));
  const dataMs = nowMs() - t1;
  const broken = results.flatMap((r, k) => {
    const { i, s } = streams[k] as { i: number; s: ServiceStream };
    if (r.status === 'fulfilled' && r.value === expected[i]) return [];
    return [{ i, s, why: r.status === 'fulfilled' ? 'hash mismatch' : describeError(r.reason, 120) }];
  });
  for (const { s } of streams) s.end();
  return { intact: streams.length - broken.length, dataMs, broken };
}

export async function concurrent(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.concurrentStreams;
  const size = ctx.sizes.concurrentBytes;
  const echoServer = await startEchoServer();
  const stack = await startStack(ctx, {
    maps: { echo: echoServer.port },
    hubArgs: ['--max-streams-per-device', '2000', '--max-streams', '5000', '--max-initiations', '5000'],
  });
  const service = createServiceClient(stack.hub.ownerCs, { ca: stack.hub.ca, hubUrl: stack.hub.url });
  const initiate = (): Promise<ServiceStream> => service.initiateStream(stack.deviceId, 'echo', { connectTimeoutSeconds: 30, responseTimeoutSeconds: 30 });

  const { dataOf, expected } = payloads(n, size);

  // Warm the path first, as a hub in service is warm: one batch of streams opened at once (JIT
  // of the initiation, upgrade and close paths, REST keep-alive connections, TLS sessions), each
  // carrying a little data. Not measured.
  const warm = await Promise.all(Array.from({ length: Math.min(n, 100) }, initiate));
  await Promise.all(warm.map((s, i) => exchange(s, dataOf(i).subarray(0, 4096))));
  for (const s of warm) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 500));

  progress(`concurrent: initiating ${n} streams at once`);
  const cpuProcs = { hub: stack.hub.proc.pid, agent: stack.agent.pid, echoServer: echoServer.proc.pid };
  const cpu0 = Object.fromEntries(Object.entries(cpuProcs).map(([k, pid]) => [k, cpuMsOf(pid)]));
  const self0 = process.cpuUsage();
  const { streams, figures } = await openAtOnce(n, initiate);
  const selfCpu = process.cpuUsage(self0);
  // Where the CPU went while the streams were being opened (ms of CPU per process).
  const openCpuMs: Record<string, number> = Object.fromEntries(Object.entries(cpuProcs).map(([k, pid]) => [k, cpuMsOf(pid) - (cpu0[k] ?? 0)]));
  openCpuMs.benchClient = (selfCpu.user + selfCpu.system) / 1000;
  const rate = figures.initiationsPerSecond;
  progress(`concurrent: ${streams.length}/${n} open in ${fmtMs(figures.openMs)} (${rate.toFixed(0)}/s); CPU ms meanwhile: ${Object.entries(openCpuMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);

  const { intact, dataMs, broken } = await exchangeAll(streams, dataOf, expected);
  // When streams broke, keep what the hub and agent said about it (their logs end with the run).
  const logLines = (text: string): string[] => text.split('\n').filter((l) => /heartbeat|error|closing|drop|lost|could not|timed out|refusing|1006|1011/i.test(l) && !/ended \(stream closed\)|ended \(target closed\)/.test(l)).slice(-20);
  const logs = intact < n ? { hub: logLines(stack.hub.proc.output()), agent: logLines(stack.agent.output()) } : undefined;
  const moved = 2 * size * streams.length;
  progress(`concurrent: ${intact}/${n} intact, ${fmtBytes(moved)} in ${fmtMs(dataMs)}`);
  return {
    name: 'concurrent',
    description: `${n} streams initiated at once to one device, then ${fmtBytes(size)} each way on every one at once, SHA-256 checked`,
    rows: [
      { bench: 'concurrent', metric: `initiations per second (${n} at once)`, project: `${rate.toFixed(0)}/s`, comparison: '', ratio: '', target: `≥ ${TARGET_INITIATIONS_PER_SECOND}/s`, status: status(rate >= TARGET_INITIATIONS_PER_SECOND) },
      { bench: 'concurrent', metric: `streams intact (${fmtBytes(size)} each way, SHA-256)`, project: `${intact}/${n}`, comparison: '', ratio: '', target: 'all intact', status: status(intact === n) },
      { bench: 'concurrent', metric: 'aggregate payload rate while all carry data', project: fmtRate(moved / (dataMs / 1000)), comparison: '', ratio: '', target: 'reported', status: 'info' },
    ],
    raw: {
      streams: n,
      bytesEachWay: size,
      ...figures,
      openCpuMs,
      intact,
      dataMs,
      aggregateBytesPerSecond: moved / (dataMs / 1000),
      dataErrors: tally(broken.map((b) => b.why)),
      ...(logs === undefined ? {} : { logs }),
    },
  };
}
