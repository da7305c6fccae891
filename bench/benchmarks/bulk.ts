/**
 * Bulk throughput, both directions: the same bytes from the same client to the same sink, once
 * through `devicestreams proxy` → hub/streaming endpoint (TLS) → agent → sink, once through an
 * `ssh -L` tunnel to a private sshd, and once through the platform floor (three bare node:tls
 * relay hops, bench/lib/floor.ts). Trials alternate A B C A B C; medians of the rounds are compared.
 */
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { join } from 'node:path';
import { startTlsFloor } from '../lib/floor.js';
import { download, startSink, upload } from '../lib/sink.js';
import { startSshPeer } from '../lib/ssh.js';
import { startStack } from '../lib/stack.js';
import { GiB, cpuMsOf, fmtBytes, fmtRate, fmtRatio, median, progress } from '../lib/util.js';

export async function bulk(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.bulkBytes;
  const sink = await startSink();
  const ssh = await startSshPeer();
  const tunnel = await ssh.tunnel(sink.port);
  const stack = await startStack(ctx, { maps: { sink: sink.port }, proxies: ['sink'] });
  const proxyPort = stack.proxies.sink?.port ?? 0;
  const floor = await startTlsFloor(join(stack.hub.dataDir, 'tls'), sink.port);

  // One small trial each to warm up (JIT, TLS session caches) before anything is measured.
  await upload(proxyPort, 8 << 20);
  await upload(tunnel.port, 8 << 20);
  await upload(floor.port, 8 << 20);

  const ds = { up: [] as number[], down: [] as number[] };
  const sh = { up: [] as number[], down: [] as number[] };
  const fl = { up: [] as number[], down: [] as number[] };
  // CPU each side's processes spend per GiB carried (the client and sink are the same for both).
  const dsProcs = { hub: stack.hub.proc.pid, agent: stack.agent.pid, proxy: stack.proxies.sink?.proc.pid ?? 0 };
  const shProcs = { ssh: tunnel.proc.pid, sshd: ssh.sshd.pid };
  const flProcs = Object.fromEntries(floor.procs.map((p, i) => [`hop${i + 1}`, p.pid]));
  const cpuPerGiB: Record<string, Record<string, number[]>> = { dsUp: {}, dsDown: {}, sshUp: {}, sshDown: {}, floorUp: {}, floorDown: {} };
  const measured = async (key: string, procs: Record<string, number>, trial: () => Promise<number>): Promise<number> => {
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuMsOf(pid)]));
    const seconds = await trial();
    for (const [k, pid] of Object.entries(procs)) {
      const per = ((cpuMsOf(pid) - (before[k] ?? 0)) / 1000) * (GiB / n);
      ((cpuPerGiB[key] ??= {})[k] ??= []).push(per);
    }
    return n / seconds;
  };
  for (let r = 0; r < ctx.sizes.rounds; r++) {
    ds.up.push(await measured('dsUp', dsProcs, () => upload(proxyPort, n)));
    sh.up.push(await measured('sshUp', shProcs, () => upload(tunnel.port, n)));
    fl.up.push(await measured('floorUp', flProcs, () => upload(floor.port, n)));
    ds.down.push(await measured('dsDown', dsProcs, () => download(proxyPort, n)));
    sh.down.push(await measured('sshDown', shProcs, () => download(tunnel.port, n)));
    fl.down.push(await measured('floorDown', flProcs, () => download(floor.port, n)));
    progress(`bulk round ${r + 1}/${ctx.sizes.rounds}: s→d ds ${fmtRate(ds.up.at(-1) ?? 0)} ssh ${fmtRate(sh.up.at(-1) ?? 0)} floor ${fmtRate(fl.up.at(-1) ?? 0)}; d→s ds ${fmtRate(ds.down.at(-1) ?? 0)} ssh ${fmtRate(sh.down.at(-1) ?? 0)} floor ${fmtRate(fl.down.at(-1) ?? 0)}`);
  }
  const rows: BenchResult['rows'] = [];
  for (const [dir, label] of [['up', 'service → device'], ['down', 'device → service']] as const) {
    const a = median(ds[dir]);
    const b = median(sh[dir]);
    rows.push({
      bench: 'bulk',
      metric: `${label} (${fmtBytes(n)} a trial)`,
      project: fmtRate(a),
      comparison: `${fmtRate(b)} ssh -L`,
      ratio: fmtRatio(a / b),
      target: '≥ 1.0× ssh',
      status: status(a / b >= 1.0),
    });
    const f = median(fl[dir]);
    rows.push({
      bench: 'bulk',
      metric: `${label}: platform floor, 3 bare node:tls relay hops (product at ${fmtRatio(a / f)} of it)`,
      project: fmtRate(f),
      comparison: `${fmtRate(b)} ssh -L`,
      ratio: fmtRatio(f / b),
      target: 'reference',
      status: 'info',
    });
  }
  const sumMedians = (key: string): number => Object.values(cpuPerGiB[key] ?? {}).reduce((a, l) => a + median(l), 0);
  for (const [dir, label] of [['Up', 'service → device'], ['Down', 'device → service']] as const) {
    const a = sumMedians(`ds${dir}`);
    const b = sumMedians(`ssh${dir}`);
    const parts = Object.entries(cpuPerGiB[`ds${dir}`] ?? {}).map(([p, l]) => `${p} ${median(l).toFixed(1)}`).join(' + ');
    rows.push({
      bench: 'bulk',
      metric: `${label}: CPU seconds per GiB carried (${parts}; floor's 3 hops ${sumMedians(`floor${dir}`).toFixed(1)} s)`,
      project: `${a.toFixed(1)} s`,
      comparison: `${b.toFixed(1)} s ssh+sshd`,
      ratio: fmtRatio(a / b),
      target: 'reported',
      status: 'info',
    });
  }
  return {
    name: 'bulk',
    description: 'bytes through devicestreams proxy → streaming endpoint (TLS) → agent → sink vs the same bytes through ssh -L',
    rows,
    raw: {
      bytesPerTrial: n,
      rounds: ctx.sizes.rounds,
      devicestreams: { serviceToDeviceBytesPerSecond: ds.up, deviceToServiceBytesPerSecond: ds.down },
      sshTunnel: { serviceToDeviceBytesPerSecond: sh.up, deviceToServiceBytesPerSecond: sh.down },
      nodeTlsFloor: { serviceToDeviceBytesPerSecond: fl.up, deviceToServiceBytesPerSecond: fl.down },
      cpuSecondsPerGiBMedian: Object.fromEntries(Object.entries(cpuPerGiB).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([p, l]) => [p, median(l)]))])),
    },
  };
}
