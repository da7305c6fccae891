/**
 * Stream setup: from `service.initiateStream(device, 'echo')` (SDK, in this process) to the first
 * echoed byte — REST initiation, the device's answer over its control channel, both sides' WSS
 * connections to the streaming endpoint, the agent's TCP connection to the echo server — against a
 * complete `ssh host true` with key auth (new process, key exchange, auth, a session, exit).
 * Samples alternate one A, one B.
 */
import { startEchoServer } from '../../test/harness.js';
import { createServiceClient, type ServiceClient } from '../../server/sdk/service-client.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startSshPeer } from '../lib/ssh.js';
import { startStack } from '../lib/stack.js';
import { fmtMs, fmtRatio, nowMs, progress, quantile } from '../lib/util.js';

/** The setup target: the project's p50 at most this fraction of ssh's (see README). */
export const SETUP_TARGET_FRACTION = 0.1;

/**
 * One stream setup: `initiateStream(deviceId, 'echo')` to the first echoed byte, in milliseconds;
 * the stream is destroyed after it.
 */
export async function setupOnceMs(service: ServiceClient, deviceId: string): Promise<number> {
  const t0 = nowMs();
  const stream = await service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 10, responseTimeoutSeconds: 10 });
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('data', () => resolve());
      stream.once('error', reject);
      stream.once('close', () => reject(new Error('stream closed before the echo')));
      stream.write(Buffer.from('x'));
    });
    return nowMs() - t0;
  } finally {
    stream.destroy();
  }
}

export async function setup(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.setups;
  const echoServer = await startEchoServer();
  const ssh = await startSshPeer();
  const stack = await startStack(ctx, { maps: { echo: echoServer.port } });
  const service = createServiceClient(stack.hub.ownerCs, { ca: stack.hub.ca, hubUrl: stack.hub.url });

  const dsOnce = (): Promise<number> => setupOnceMs(service, stack.deviceId);

  for (let i = 0; i < 5; i++) {
    await dsOnce();
    await ssh.loginTrue();
  }
  const ds: number[] = [];
  const sh: number[] = [];
  for (let i = 0; i < n; i++) {
    ds.push(await dsOnce());
    sh.push(await ssh.loginTrue());
    if ((i + 1) % 50 === 0) progress(`setup ${i + 1}/${n}`);
  }
  const q = (v: number[], p: number): number => quantile(v, p);
  const r50 = q(ds, 0.5) / q(sh, 0.5);
  progress(`setup: ds p50 ${fmtMs(q(ds, 0.5))} p99 ${fmtMs(q(ds, 0.99))}; ssh true p50 ${fmtMs(q(sh, 0.5))} p99 ${fmtMs(q(sh, 0.99))}`);
  return {
    name: 'setup',
    description: 'initiateStream → first echoed byte (SDK) vs a full `ssh host true` with key auth; alternating samples',
    rows: [
      { bench: 'setup', metric: `stream setup p50 (${n} samples)`, project: fmtMs(q(ds, 0.5)), comparison: `${fmtMs(q(sh, 0.5))} ssh true`, ratio: fmtRatio(r50), target: `≤ ${SETUP_TARGET_FRACTION * 100}% of ssh (≤ ${SETUP_TARGET_FRACTION.toFixed(2)}×)`, status: status(r50 <= SETUP_TARGET_FRACTION) },
      { bench: 'setup', metric: 'stream setup p99', project: fmtMs(q(ds, 0.99)), comparison: `${fmtMs(q(sh, 0.99))} ssh true`, ratio: fmtRatio(q(ds, 0.99) / q(sh, 0.99)), target: 'reported', status: 'info' },
    ],
    raw: {
      samples: n,
      devicestreamsMs: { p50: q(ds, 0.5), p90: q(ds, 0.9), p99: q(ds, 0.99), max: q(ds, 1) },
      sshTrueMs: { p50: q(sh, 0.5), p90: q(sh, 0.9), p99: q(sh, 0.99), max: q(sh, 1) },
      targetFractionOfSsh: SETUP_TARGET_FRACTION,
    },
  };
}
