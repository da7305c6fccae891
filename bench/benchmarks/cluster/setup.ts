/**
 * The cluster benchmark's setup phase: `setup`'s measurement (initiateStream → first echoed byte)
 * initiated at the node that holds the device and at another node, alternating.
 */
import type { ServiceClient } from '../../../server/sdk/service-client.js';
import { status, type PhaseResult } from '../../lib/result.js';
import { fmtMs, fmtRatio, nowMs, percentiles, progress, quantile } from '../../lib/util.js';
import { setupOnceMs } from '../setup.js';
import { cpuMeter, fmtOther } from './accounting.js';

const TARGET_SETUP_RATIO = 1.5;

/**
 * `direct[k]` talks to node k, which holds device `deviceOf[k]`. Round r takes the device of node
 * d = r mod N and initiates once at d ("same node") and once at one of the others in turn
 * ("across nodes"); which of the two goes first alternates.
 */
export async function setupPhase(direct: ServiceClient[], deviceOf: string[], n: number): Promise<PhaseResult> {
  const nodes = direct.length;
  const plan = (r: number): { same: ServiceClient; across: ServiceClient; device: string } => {
    const d = r % nodes;
    const cross = (d + 1 + (Math.floor(r / nodes) % (nodes - 1))) % nodes;
    return { same: direct[d] as ServiceClient, across: direct[cross] as ServiceClient, device: deviceOf[d] as string };
  };
  // Warm-up: every pair of nodes both ways, twice (not measured).
  for (let r = 0; r < 2 * nodes * (nodes - 1); r++) {
    const p = plan(r);
    await setupOnceMs(p.same, p.device);
    await setupOnceMs(p.across, p.device);
  }
  const same: number[] = [];
  const across: number[] = [];
  const measured = nowMs();
  const meter = cpuMeter({});
  for (let r = 0; r < n; r++) {
    const p = plan(r);
    if (r % 2 === 0) {
      same.push(await setupOnceMs(p.same, p.device));
      across.push(await setupOnceMs(p.across, p.device));
    } else {
      across.push(await setupOnceMs(p.across, p.device));
      same.push(await setupOnceMs(p.same, p.device));
    }
    if ((r + 1) % 100 === 0) progress(`cluster/setup: ${r + 1}/${n} rounds`);
  }
  const window = { fromMs: measured, toMs: nowMs() };
  const cpu = meter();
  const q = quantile;
  const ratio = q(across, 0.5) / q(same, 0.5);
  progress(`cluster/setup: same node p50 ${fmtMs(q(same, 0.5))} p99 ${fmtMs(q(same, 0.99))}; across nodes p50 ${fmtMs(q(across, 0.5))} p99 ${fmtMs(q(across, 0.99))}; other work on the machine: ${fmtOther(cpu)} of its busy CPU`);
  return {
    rows: [
      { bench: 'cluster', metric: `stream setup p50 across nodes vs same node (${n} each)`, project: fmtMs(q(across, 0.5)), comparison: `${fmtMs(q(same, 0.5))} same node`, ratio: fmtRatio(ratio), target: `≤ ${TARGET_SETUP_RATIO}×`, status: status(ratio <= TARGET_SETUP_RATIO) },
      { bench: 'cluster', metric: 'stream setup p99 across nodes vs same node', project: fmtMs(q(across, 0.99)), comparison: `${fmtMs(q(same, 0.99))} same node`, ratio: fmtRatio(q(across, 0.99) / q(same, 0.99)), target: 'reported', status: 'info' },
    ],
    raw: { samplesEach: n, sameNodeMs: percentiles(same), acrossNodesMs: percentiles(across), ratioP50: ratio, cpuMs: cpu },
    windows: { setup: window },
  };
}
