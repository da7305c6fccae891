/**
 * File transfers of a large file (1 GiB; 256 MiB with --quick): `devicestreams cp` up and down,
 * and the console's PUT/GET /api/devices/:id/files, through hub → agent → `devicestreams
 * file-server`. Reports each way's rate and the peak resident memory of every process on the path
 * above its idle size: a transfer must stream, so none may grow by anything near the file's size.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { BenchContext, BenchResult, Row } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startBenchHub } from '../lib/stack.js';
import { GiB, MiB, RssSampler, fmtBytes, fmtRate, progress, steadyRss } from '../lib/util.js';
import { spawnCli, startAgent, tempDir, type Proc } from '../../test/harness.js';
import { ConsoleClient } from '../../test/console-client.js';
import { getFile, putFile } from '../../test/fixtures/console-files.js';

/** A process on the path may grow this much above its idle size while carrying the file. */
const GROWTH_BOUND = 96 * MiB;
/** A cp process's whole resident memory (about 100 MiB for a 1 MiB copy: node, tsx, TLS). */
const CP_BOUND = 192 * MiB;

async function randomFile(path: string, bytes: number): Promise<string> {
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  for (let left = bytes; left > 0; left -= 4 * MiB) {
    const chunk = randomBytes(Math.min(4 * MiB, left));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return hash.digest('hex');
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 4 * MiB }).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

export async function files(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.bulkBytes;
  const password = randomBytes(12).toString('base64url');
  const hub = await startBenchHub(ctx, [], { DEVICESTREAMS_ADMIN_PASSWORD: password });
  const root = tempDir('ds-bench-files-');
  const sock = join(tempDir('ds-bench-fsock-'), 'run', 'files.sock');
  const server = spawnCli(['file-server', '--root', root, '--listen', `unix:${sock}`]);
  await server.waitFor(/LISTENING unix:/);
  const agent = await startAgent(hub, 'bench-files', [`files=unix:${sock}`]);
  const local = join(tempDir('ds-bench-local-'), 'big.bin');
  progress(`files: writing a ${fmtBytes(n)} random file`);
  const want = await randomFile(local, n);
  const env = { IOTHUB_CONNECTION_STRING: hub.ownerCs };
  const path: Record<string, Proc> = { hub: hub.proc, agent, 'file server': server };
  const idle: Record<string, number> = {};
  for (const [k, p] of Object.entries(path)) idle[k] = await steadyRss(p.pid);

  const rows: Row[] = [];
  const raw: Record<string, unknown> = { bytes: n };
  const trial = async (label: string, run: () => Promise<{ ok: () => Promise<boolean> }>): Promise<void> => {
    const sampler = new RssSampler(path, 50);
    const t0 = Date.now();
    const r = await run();
    const seconds = (Date.now() - t0) / 1000;
    const peak = sampler.stop();
    const ok = await r.ok();
    const growth = Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, v - (idle[k] ?? 0)]));
    const worst = Math.max(...Object.values(growth));
    progress(`files ${label}: ${fmtRate(n / seconds)}, RSS growth ${Object.entries(growth).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ')}${ok ? '' : ' — SHA-256 DIFFERS'}`);
    raw[label] = { seconds, bytesPerSecond: n / seconds, peakRss: peak, idleRss: idle, sha256Equal: ok };
    rows.push({ bench: 'files', metric: `${label} (${fmtBytes(n)})`, project: fmtRate(n / seconds), comparison: '', ratio: '', target: 'SHA-256 equal', status: ok ? 'info' : 'FAILED' });
    rows.push({
      bench: 'files',
      metric: `${label}: peak RSS growth (${Object.entries(growth).map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ')})`,
      project: fmtBytes(worst),
      comparison: '',
      ratio: '',
      target: `< ${fmtBytes(GROWTH_BOUND)} each`,
      status: status(worst < GROWTH_BOUND),
    });
  };

  /** Runs `devicestreams cp ARGS`, sampling its own memory: a row with its peak RSS. */
  const cp = async (label: string, args: string[]): Promise<void> => {
    const proc = spawnCli(['cp', '--ca', hub.caFile, ...args], env);
    const sampler = new RssSampler({ cp: proc }, 50);
    const code = await proc.exited;
    const peak = sampler.stop().cp ?? 0;
    if (code !== 0) throw new Error(`${label} failed: ${proc.output().slice(-500)}`);
    raw[`${label} process`] = { peakRss: peak };
    rows.push({ bench: 'files', metric: `${label}: the cp process's peak RSS (node and its modules included)`, project: fmtBytes(peak), comparison: '', ratio: '', target: `< ${fmtBytes(CP_BOUND)}`, status: status(peak < CP_BOUND) });
  };
  await trial('cp upload', async () => {
    await cp('cp upload', [local, 'bench-files:up.bin']);
    return { ok: async () => (await sha256File(join(root, 'up.bin'))) === want };
  });
  const back = join(tempDir('ds-bench-back-'), 'back.bin');
  await trial('cp download', async () => {
    await cp('cp download', ['bench-files:up.bin', back]);
    return { ok: async () => (await sha256File(back)) === want };
  });

  const c = new ConsoleClient(hub);
  const admin = await c.login('admin', password);
  mkdirSync(join(root, 'console'));
  await trial('console upload', async () => {
    const r = await putFile(c, admin, 'bench-files', 'console/up.bin', local);
    if (r.status !== 201) throw new Error(`console upload answered ${r.status}: ${JSON.stringify(r.json)}`);
    return { ok: async () => (await sha256File(join(root, 'console', 'up.bin'))) === want };
  });
  await trial('console download', async () => {
    const r = await getFile(c, admin, 'bench-files', 'console/up.bin');
    if (r.status !== 200) throw new Error(`console download answered ${r.status}`);
    return { ok: () => Promise.resolve(r.sha256 === want) };
  });
  return {
    name: 'files',
    description: 'one large file through devicestreams cp and the console\'s file routes → hub → agent → devicestreams file-server, both ways',
    rows,
    raw: { ...raw, growthBoundBytes: GROWTH_BOUND, GiB },
  };
}
