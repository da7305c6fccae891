/**
 * Echo round trip: one byte out, the same byte back, over one open connection, through
 * `devicestreams proxy` → streaming endpoint → agent → echo server, through `ssh -L` to the
 * same echo server, and through the platform floor (three bare node:tls relay hops,
 * bench/lib/floor.ts). Batches of samples alternate between the paths.
 */
import { join } from 'node:path';
import { startEchoServer } from '../../test/harness.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startTlsFloor } from '../lib/floor.js';
import { openEcho, type EchoConnection } from '../lib/sink.js';
import { startSshPeer } from '../lib/ssh.js';
import { startStack } from '../lib/stack.js';
import { fmtMs, fmtRatio, progress, quantile } from '../lib/util.js';

async function sample(conn: EchoConnection, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) into.push(await conn.ping());
}

export async function echo(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const total = ctx.sizes.echoSamples;
  const echoServer = await startEchoServer();
  const ssh = await startSshPeer();
  const tunnel = await ssh.tunnel(echoServer.port);
  const stack = await startStack(ctx, { maps: { echo: echoServer.port }, proxies: ['echo'] });
  const dsConn = await openEcho(stack.proxies.echo?.port ?? 0, false);
  const shConn = await openEcho(tunnel.port, false);
  const floor = await startTlsFloor(join(stack.hub.dataDir, 'tls'), echoServer.port);
  const flConn = await openEcho(floor.port, false);
  try {
    // Warm-up, not recorded.
    await sample(dsConn, 50, []);
    await sample(shConn, 50, []);
    await sample(flConn, 50, []);
    const ds: number[] = [];
    const sh: number[] = [];
    const fl: number[] = [];
    const batches = Math.max(ctx.sizes.rounds, 4);
    const per = Math.ceil(total / batches);
    for (let b = 0; b < batches; b++) {
      await sample(dsConn, per, ds);
      await sample(shConn, per, sh);
      await sample(flConn, per, fl);
    }
    const p = (v: number[], q: number): number => quantile(v, q);
    progress(`echo: ds p50 ${fmtMs(p(ds, 0.5))} p99 ${fmtMs(p(ds, 0.99))}; ssh p50 ${fmtMs(p(sh, 0.5))} p99 ${fmtMs(p(sh, 0.99))}; floor p50 ${fmtMs(p(fl, 0.5))} p99 ${fmtMs(p(fl, 0.99))}`);
    const r50 = p(ds, 0.5) / p(sh, 0.5);
    const r99 = p(ds, 0.99) / p(sh, 0.99);
    return {
      name: 'echo',
      description: '1-byte ping-pong over one open connection: devicestreams proxy path vs ssh -L, same echo server',
      rows: [
        { bench: 'echo', metric: `round trip p50 (${ds.length} samples)`, project: fmtMs(p(ds, 0.5)), comparison: `${fmtMs(p(sh, 0.5))} ssh -L`, ratio: fmtRatio(r50), target: '≤ 2× ssh', status: status(r50 <= 2) },
        { bench: 'echo', metric: 'round trip p99', project: fmtMs(p(ds, 0.99)), comparison: `${fmtMs(p(sh, 0.99))} ssh -L`, ratio: fmtRatio(r99), target: 'reported', status: 'info' },
        { bench: 'echo', metric: `platform floor p50, 3 bare node:tls relay hops (product at ${fmtRatio(p(ds, 0.5) / p(fl, 0.5))} of it)`, project: fmtMs(p(fl, 0.5)), comparison: `${fmtMs(p(sh, 0.5))} ssh -L`, ratio: fmtRatio(p(fl, 0.5) / p(sh, 0.5)), target: 'reference', status: 'info' },
      ],
      raw: {
        samples: ds.length,
        batches,
        devicestreamsMs: { p50: p(ds, 0.5), p90: p(ds, 0.9), p99: p(ds, 0.99), max: p(ds, 1) },
        sshTunnelMs: { p50: p(sh, 0.5), p90: p(sh, 0.9), p99: p(sh, 0.99), max: p(sh, 1) },
        nodeTlsFloorMs: { p50: p(fl, 0.5), p90: p(fl, 0.9), p99: p(fl, 0.99), max: p(fl, 1) },
      },
    };
  } finally {
    dsConn.close();
    shConn.close();
    flConn.close();
  }
}
