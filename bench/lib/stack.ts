/**
 * The project's side of a benchmark: a hub (with the streaming endpoint in the same process), one
 * agent mapping stream names to local targets, and `devicestreams proxy` listeners — all real
 * processes of the real CLI over TLS on loopback, started through the test harness.
 */
import { CLI, hubHandle, spawnProc, startAgent, startHub, startProxy, tempDir, type HubHandle, type Proc } from '../../test/harness.js';
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
function startProfiledHub(ctx: BenchContext, args: string[], dataDir: string, env: Record<string, string>): Promise<HubHandle> {
  const proc = spawnProc(process.execPath, ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir, CLI, 'hub', '--data-dir', dataDir, '--port', '0', ...args], env);
  profiled.push(proc);
  return hubHandle(proc, dataDir);
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
