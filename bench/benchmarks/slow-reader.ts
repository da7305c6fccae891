/**
 * Slow reader: a stream whose reader takes 1 MiB/s while the writer offers up to 1 GiB as fast as
 * the path lets it, for a short run. Backpressure must hold the difference in the writer (the TCP
 * window closes all the way back), not in the streaming endpoint: its resident memory may grow by
 * at most 64 MiB. Both directions: the device's service reads slowly (service → device), and the
 * local client of `devicestreams proxy` reads slowly (device → service).
 */
import { rssOf, sleep } from '../../test/harness.js';
import type { BenchContext, BenchResult, Row } from '../lib/result.js';
import { status } from '../lib/result.js';
import { offerToSlowReader, readSlowly, startSink, upload } from '../lib/sink.js';
import { startStack } from '../lib/stack.js';
import { GiB, MiB, RssSampler, fmtBytes, progress, steadyRss } from '../lib/util.js';

const LIMIT = 64 * MiB;

/** A growth with its sign: a negative one means the peak stayed below the baseline (GC gave back). */
function signed(n: number): string {
  return n < 0 ? `−${fmtBytes(-n)} (below baseline)` : `+${fmtBytes(n)}`;
}

export async function slowReader(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const seconds = ctx.sizes.slowSeconds;
  const rate = ctx.sizes.slowRateBytesPerSecond;
  const sink = await startSink();
  const stack = await startStack(ctx, { maps: { sink: sink.port }, proxies: ['sink'] });
  const port = stack.proxies.sink?.port ?? 0;
  const procs = { hub: stack.hub.proc, agent: stack.agent, proxy: stack.proxies.sink?.proc ?? stack.agent };
  // Warm the path so compiled code and TLS buffers are in the baseline, not in the growth.
  await upload(port, 32 * MiB);
  await sleep(1000);

  const rows: Row[] = [];
  const raw: Record<string, unknown> = { seconds, readerBytesPerSecond: rate, offeredAtMost: GiB };
  // One baseline before either direction: growth is counted from there (conservative: whatever the
  // first direction left behind counts against the second too).
  const base = { hub: await steadyRss(procs.hub.pid), agent: rssOf(procs.agent.pid), proxy: rssOf(procs.proxy.pid) };
  for (const dir of ['service → device', 'device → service'] as const) {
    const sampler = new RssSampler(procs, 100);
    let moved: number;
    let sockets;
    if (dir === 'service → device') {
      const r = await offerToSlowReader(port, rate, seconds, GiB);
      moved = r.accepted;
      sockets = r.socket;
    } else {
      const r = await readSlowly(port, rate, seconds, GiB);
      moved = r.read;
      sockets = r.socket;
    }
    const peak = sampler.stop();
    sockets.destroy();
    const growth = { hub: (peak.hub ?? 0) - base.hub, agent: (peak.agent ?? 0) - base.agent, proxy: (peak.proxy ?? 0) - base.proxy };
    progress(`slow reader ${dir}: ${fmtBytes(moved)} ${dir === 'service → device' ? 'accepted from the writer' : 'read'} in ${seconds} s; growth hub ${signed(growth.hub)}, agent ${signed(growth.agent)}, proxy ${signed(growth.proxy)}`);
    rows.push({
      bench: 'slow-reader',
      metric: `${dir}: streaming-endpoint (hub) RSS growth, ${seconds} s at ${fmtBytes(rate)}/s`,
      project: signed(growth.hub),
      comparison: '',
      ratio: '',
      target: '≤ 64 MiB',
      status: status(growth.hub <= LIMIT),
    });
    rows.push({
      bench: 'slow-reader',
      metric: `${dir}: agent / proxy RSS growth`,
      project: `${signed(growth.agent)} / ${signed(growth.proxy)}`,
      comparison: '',
      ratio: '',
      target: 'reported',
      status: 'info',
    });
    raw[dir === 'service → device' ? 'serviceToDevice' : 'deviceToService'] = {
      baseline: base,
      peak,
      growth,
      bytes: moved,
      meaning: dir === 'service → device' ? 'bytes the writer got into the path' : 'bytes the slow reader read',
    };
    await sleep(1000);
  }
  return {
    name: 'slow-reader',
    description: `one stream, reader at ${fmtBytes(rate)}/s, writer offering up to 1 GiB for ${seconds} s per direction; peak VmRSS growth`,
    rows,
    raw,
  };
}
