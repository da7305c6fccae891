/**
 * What resumable (v2) streams cost and buy, in one run:
 *
 * - throughput: the same bytes from the same client to the same sink through two
 *   `devicestreams proxy` listeners to the same device, one resumable (the default: sequence
 *   numbers, acknowledgements, a resume buffer) and one `--no-resume` (v1); trials alternate, the
 *   order flips every round, medians compared (target: resumable ≤ 5 % slower).
 * - resume time: the hub is SIGKILLed under an open resumable stream and started again; from the
 *   moment it says READY to the first byte through the stream again (a byte written while it was
 *   down, echoed by the device). Beside it, in the same restarts, what a client without resume
 *   does: initiate a new stream once the hub is back, to the first echoed byte.
 */
import { randomBytes } from 'node:crypto';
import { spawnCli, startEchoServer, type HubHandle } from '../../test/harness.js';
import { restartHub } from '../../test/fixtures/fault-helpers.js';
import type { ServiceStream } from '../../server/sdk/service-client.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { download, startSink, upload } from '../lib/sink.js';
import { startStack } from '../lib/stack.js';
import { fmtMs, fmtRate, fmtRatio, median, nowMs, progress, quantile } from '../lib/util.js';

/** Resolves at the first data event of `s` after now, with its time (bounded). */
function nextData(s: ServiceStream, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no byte back within ${timeoutMs} ms`)), timeoutMs);
    s.once('data', () => {
      clearTimeout(timer);
      resolve(nowMs());
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Ends a stream and waits (bounded) for it to close. */
async function closeStream(s: ServiceStream): Promise<void> {
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  s.end();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
}

async function plainProxy(hub: HubHandle, deviceId: string, stream: string): Promise<{ kill: () => void; port: number }> {
  const proc = spawnCli(['proxy', '--device', deviceId, '--stream', stream, '--listen', '127.0.0.1:0', '--no-resume', '--ca', hub.caFile], {
    IOTHUB_CONNECTION_STRING: hub.ownerCs,
  });
  const m = await proc.waitFor(/LISTENING [^:]+:(\d+)/);
  return { kill: () => proc.kill('SIGTERM'), port: Number(m[1]) };
}

export async function resume(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  // A quarter of bulk's trial, four times as many trials: a ≤ 5 % target needs the samples, and
  // each round's two trials back to back give a ratio of their own (the machine's load drifts
  // from round to round by more than 5 %; within a round it mostly does not).
  const n = ctx.sizes.bulkBytes / 4;
  const trials = ctx.sizes.rounds * 4;
  const sink = await startSink();
  const echo = await startEchoServer();
  const stack = await startStack(ctx, { maps: { sink: sink.port, echo: echo.port }, proxies: ['sink'] });
  let hub = stack.hub;
  const v2Port = stack.proxies.sink?.port ?? 0;
  const v1 = await plainProxy(hub, stack.deviceId, 'sink');

  // Throughput: resumable against plain, the same bytes, alternating and flipping the order.
  await upload(v2Port, 8 << 20);
  await upload(v1.port, 8 << 20);
  const rate = { v2Up: [] as number[], v1Up: [] as number[], v2Down: [] as number[], v1Down: [] as number[] };
  for (let r = 0; r < trials; r++) {
    const order = r % 2 === 0 ? (['v2', 'v1'] as const) : (['v1', 'v2'] as const);
    for (const which of order) rate[`${which}Up`].push(n / (await upload(which === 'v2' ? v2Port : v1.port, n)));
    for (const which of order) rate[`${which}Down`].push(n / (await download(which === 'v2' ? v2Port : v1.port, n)));
    progress(`resume: throughput round ${r + 1}/${trials}: s→d resumable ${fmtRate(rate.v2Up.at(-1) ?? 0)} plain ${fmtRate(rate.v1Up.at(-1) ?? 0)}; d→s resumable ${fmtRate(rate.v2Down.at(-1) ?? 0)} plain ${fmtRate(rate.v1Down.at(-1) ?? 0)}`);
  }
  v1.kill();

  // Resume time: SIGKILL the hub under an open stream, start it again, time READY → first byte.
  const resumeMs: number[] = [];
  const reopenMs: number[] = [];
  const downMs: number[] = [];
  for (let r = 0; r < ctx.sizes.resumeRestarts; r++) {
    const s = await hub.service.initiateStream(stack.deviceId, 'echo', { resumable: { windowSeconds: 60 } });
    const warm = nextData(s, 10_000);
    s.write(randomBytes(64));
    await warm;
    const tKill = nowMs();
    hub.proc.kill('SIGKILL');
    await hub.proc.exited;
    const back = nextData(s, 60_000);
    // Written while the hub is down: it waits in the resume buffer and goes out on the new leg.
    s.write('m');
    hub = await restartHub(hub, ['--heartbeat-interval', '15']);
    const tBack = nowMs();
    downMs.push(tBack - tKill);
    // Without resume: a new stream to the same service once the hub is back.
    const reopened = (async () => {
      const fresh = await hub.service.initiateStream(stack.deviceId, 'echo', { connectTimeoutSeconds: 30, resumable: false });
      const first = nextData(fresh, 30_000);
      fresh.write('r');
      const t = await first;
      await closeStream(fresh);
      return t;
    })();
    const [tResumed, tReopened] = await Promise.all([back, reopened]);
    resumeMs.push(tResumed - tBack);
    reopenMs.push(tReopened - tBack);
    await closeStream(s);
    progress(`resume: restart ${r + 1}/${ctx.sizes.resumeRestarts}: hub down ${fmtMs(downMs.at(-1) ?? 0)}, READY → byte through: resumed ${fmtMs(resumeMs.at(-1) ?? 0)}, new stream ${fmtMs(reopenMs.at(-1) ?? 0)}`);
  }

  const rows: BenchResult['rows'] = [];
  const pairedRatios: Record<string, number[]> = {};
  for (const [dir, label] of [['Up', 'service → device'], ['Down', 'device → service']] as const) {
    const v2 = rate[`v2${dir}`];
    const v1 = rate[`v1${dir}`];
    const paired = v2.map((x, k) => x / (v1[k] ?? Number.NaN));
    pairedRatios[dir === 'Up' ? 'serviceToDevice' : 'deviceToService'] = paired;
    const r = median(paired);
    rows.push({
      bench: 'resume',
      metric: `${label} through devicestreams proxy, resumable (${trials} rounds of ${Math.round(n / (1 << 20))} MiB; ratio: median of each round's pair, p25–p75 ${fmtRatio(quantile(paired, 0.25))}–${fmtRatio(quantile(paired, 0.75))})`,
      project: fmtRate(median(v2)),
      comparison: `${fmtRate(median(v1))} --no-resume`,
      ratio: fmtRatio(r),
      target: '≥ 0.95× plain',
      status: status(r >= 0.95),
    });
  }
  const p50 = median(resumeMs);
  const p50Reopen = median(reopenMs);
  rows.push({
    bench: 'resume',
    metric: `hub SIGKILLed and restarted: READY → first byte through the resumed stream, p50 of ${resumeMs.length} (p90 ${fmtMs(quantile(resumeMs, 0.9))})`,
    project: fmtMs(p50),
    comparison: `${fmtMs(p50Reopen)} new stream`,
    ratio: fmtRatio(p50 / p50Reopen),
    target: 'reported',
    status: 'info',
  });
  return {
    name: 'resume',
    description: 'a resumable stream against a plain one (throughput), and a resumed stream against a new one after a hub restart (time to first byte)',
    rows,
    raw: {
      bytesPerTrial: n,
      rounds: trials,
      resumableBytesPerSecond: { serviceToDevice: rate.v2Up, deviceToService: rate.v2Down },
      plainBytesPerSecond: { serviceToDevice: rate.v1Up, deviceToService: rate.v1Down },
      pairedRatios,
      hubDownMs: downMs,
      readyToResumedByteMs: resumeMs,
      readyToNewStreamByteMs: reopenMs,
    },
  };
}
