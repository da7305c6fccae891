/**
 * The physical limit every throughput figure should be read against: plain node:net on 127.0.0.1,
 * the same client and the same sink process as the bulk benchmark, no tunnel at all.
 */
import { existsSync } from 'node:fs';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { download, startSink, upload } from '../lib/sink.js';
import { spawnProc } from '../../test/harness.js';
import { fmtBytes, fmtRate, freePort, median, progress, runTracked, waitForPort } from '../lib/util.js';

const IPERF3 = '/usr/bin/iperf3';

export async function loopback(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.bulkBytes;
  const sink = await startSink();
  const up: number[] = [];
  const down: number[] = [];
  // Warm-up (JIT), not recorded.
  await upload(sink.port, 32 << 20);
  await download(sink.port, 32 << 20);
  for (let r = 0; r < ctx.sizes.rounds; r++) {
    up.push(n / (await upload(sink.port, n)));
    down.push(n / (await download(sink.port, n)));
    progress(`loopback round ${r + 1}: up ${fmtRate(up.at(-1) ?? 0)}, down ${fmtRate(down.at(-1) ?? 0)}`);
  }
  const raw: Record<string, unknown> = { bytesPerTrial: n, clientToSinkBytesPerSecond: up, sinkToClientBytesPerSecond: down };
  const rows: BenchResult['rows'] = [
    { bench: 'loopback', metric: `node:net client → sink (${fmtBytes(n)})`, project: fmtRate(median(up)), comparison: '', ratio: '', target: 'reference', status: 'info' },
    { bench: 'loopback', metric: `node:net sink → client (${fmtBytes(n)})`, project: fmtRate(median(down)), comparison: '', ratio: '', target: 'reference', status: 'info' },
  ];
  if (existsSync(IPERF3)) {
    // iperf3 on loopback: the kernel's own limit with a C sender and receiver.
    const port = await freePort();
    const server = spawnProc(IPERF3, ['-s', '-1', '-B', '127.0.0.1', '-p', String(port)]);
    await waitForPort(port);
    const client = await runTracked(IPERF3, ['-c', '127.0.0.1', '-p', String(port), '-t', ctx.sizes.quick ? '3' : '5', '-J'], 60_000);
    server.kill();
    try {
      const j = JSON.parse(client.output) as { end?: { sum_received?: { bits_per_second?: number } } };
      const bps = (j.end?.sum_received?.bits_per_second ?? Number.NaN) / 8;
      raw.iperf3BytesPerSecond = bps;
      rows.push({ bench: 'loopback', metric: 'iperf3 (one TCP stream)', project: fmtRate(bps), comparison: '', ratio: '', target: 'reference', status: 'info' });
    } catch {
      raw.iperf3 = `unreadable output: ${client.output.slice(0, 200)}`;
    }
  } else {
    raw.iperf3 = 'not installed (apt-get install -y iperf3 adds its figure)';
  }
  return { name: 'loopback', description: 'plain node:net sender → receiver on 127.0.0.1 (no tunnel): the ceiling for every throughput figure', rows, raw };
}
