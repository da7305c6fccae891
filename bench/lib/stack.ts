/**
 * The project's side of a benchmark: a hub (with the streaming endpoint in the same process), one
 * agent mapping stream names to local targets, and `devicestreams proxy` listeners — all real
 * processes of the real CLI over TLS on loopback, started through the test harness.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServiceClient } from '../../server/sdk/service-client.js';
import { CLI, spawnProc, startAgent, startHub, startProxy, tempDir, type HubHandle, type Proc } from '../../test/harness.js';
import type { BenchContext } from './result.js';

export interface Stack {
  hub: HubHandle;
  agent: Proc;
  deviceId: string;
  /** Local proxy port per stream name. */
  proxies: Record<string, { proc: Proc; port: number }>;
}

export interface StackOptions {
  /** Extra `devicestreams hub` flags. */
  hubArgs?: string[];
  hubEnv?: Record<string, string>;
  /** Stream name → local TCP port on the "device". */
  maps: Record<string, number>;
  /** Stream names that get a `devicestreams proxy`. */
  proxies?: string[];
  deviceId?: string;
}

const profiled: Proc[] = [];

/**
 * Stops the hubs started under `--cpu-prof` with SIGTERM and waits for them to write their
 * profiles (the harness's stopAll would SIGKILL them after 3 s).
 */
export async function stopProfiledHubs(): Promise<void> {
  const procs = profiled.splice(0);
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 60_000))])));
}

/**
 * `startHub` of the harness, but with node flags (`--cpu-prof` cannot go through NODE_OPTIONS):
 * the same command line, the same READY line, the same handle.
 */
async function startProfiledHub(ctx: BenchContext, args: string[], dataDir: string, env: Record<string, string>): Promise<HubHandle> {
  const proc = spawnProc(process.execPath, ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir, CLI, 'hub', '--data-dir', dataDir, '--port', '0', ...args], env);
  profiled.push(proc);
  const url = (await proc.waitFor(/READY (https?:\/\/\S+)/))[1] as string;
  const caFile = join(dataDir, 'tls', 'ca.pem');
  const ca = url.startsWith('https') ? readFileSync(caFile, 'utf8') : '';
  const host = new URL(url).host;
  const m = /(HostName=[^\s']+;SharedAccessKeyName=iothubowner;SharedAccessKey=[^\s']+)/.exec(proc.output());
  const ownerCs = m !== null
    ? (m[1] as string)
    : execFileSync(process.execPath, [CLI, 'policy', 'connection-string', 'iothubowner', '--data-dir', dataDir, '--host-name', host], { encoding: 'utf8' }).trim();
  return { proc, url, port: Number(new URL(url).port), dataDir, caFile, ca, ownerCs, service: createServiceClient(ownerCs, { ca, hubUrl: url }) };
}

/**
 * Starts a hub through the harness with the product's default heartbeat (15 s; the harness passes
 * 1 s for fast tests, and the later flag wins), or under --cpu-prof when profiling.
 */
export async function startBenchHub(ctx: BenchContext, args: string[] = [], env: Record<string, string> = {}, dataDir?: string): Promise<HubHandle> {
  const all = ['--heartbeat-interval', '15', ...args];
  if (ctx.profile) return startProfiledHub(ctx, all, dataDir ?? tempDir(), env);
  return startHub(all, dataDir, env);
}

export async function startStack(ctx: BenchContext, o: StackOptions): Promise<Stack> {
  const hub = await startBenchHub(ctx, o.hubArgs, o.hubEnv);
  const deviceId = o.deviceId ?? 'bench-device';
  const agent = await startAgent(hub, deviceId, Object.entries(o.maps).map(([name, port]) => `${name}=127.0.0.1:${port}`));
  const proxies: Stack['proxies'] = {};
  for (const name of o.proxies ?? []) proxies[name] = await startProxy(hub, deviceId, name);
  return { hub, agent, deviceId, proxies };
}
