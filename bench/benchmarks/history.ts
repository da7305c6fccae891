/**
 * The stream log at size: a single hub's SQLite store with a million stream records (seeded straight
 * into its file with SQL: 20,000 devices, 50 operators, results in the shares a busy fleet has,
 * one a second over 11.5 days), then the console's history page as an admin reads it —
 * `GET /api/streams` through the BFF (which asks the hub's `GET /streams` and looks up the page's
 * recordings) — newest first, filtered by device, operator and a common, a rare and an absent result,
 * a page deep in the log by keyset, and a device's last day. Each query p50 of `samples` calls,
 * every answer checked (50 rows, each matching its filter, newest first). Target: each ≤ 50 ms, as
 * a page of the device list.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { StreamPage } from '../../shared/console-api.js';
import { ConsoleClient } from '../../test/console-client.js';
import type { BenchContext, BenchResult } from '../lib/result.js';
import { status } from '../lib/result.js';
import { startBenchHub } from '../lib/stack.js';
import { fmtMs, nowMs, progress, quantile } from '../lib/util.js';

const PASSWORD = 'bench-history-admin';
const DEVICES = 20_000;
const RESULTS = ['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'deviceOffline', 'rejected'];

/** `n` ended stream records, one a second up to now, in one transaction. */
function seed(dataDir: string, n: number): { base: number } {
  const db = new Database(join(dataDir, 'hub.db'));
  try {
    db.pragma('busy_timeout = 10000');
    const insert = db.prepare(
      `INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, result, created_at, accepted_at, connected_at, ended_at, closed_by, close_code, bytes_to_device, bytes_from_device)
       VALUES (?, ?, 'ssh', 'console', ?, 'ended', ?, ?, ?, ?, ?, 'service', 1000, 4096, 65536)`,
    );
    const base = Date.now() - n * 1000;
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const at = base + i * 1000;
        // One throttled stream in 5,000: the rare result an auditor looks for.
        const result = i % 5000 === 0 ? 'throttled' : (RESULTS[i % RESULTS.length] as string);
        insert.run(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, `dev-${String(i % DEVICES).padStart(5, '0')}`, i % 7 === 0 ? `op-${i % 50}` : null, result, at, at + 5, at + 10, at + 60_000);
      }
    })();
    db.exec('ANALYZE');
    return { base };
  } finally {
    db.close();
  }
}

export async function history(ctx: BenchContext): Promise<Omit<BenchResult, 'durationSeconds'>> {
  const n = ctx.sizes.historyRecords;
  const samples = ctx.sizes.quick ? 20 : 50;
  const hub = await startBenchHub(ctx, [], { DEVICESTREAMS_ADMIN_PASSWORD: PASSWORD });
  const t0 = nowMs();
  const { base } = seed(hub.dataDir, n);
  progress(`history: ${n.toLocaleString('en')} stream records seeded in ${fmtMs(nowMs() - t0)}`);
  const c = new ConsoleClient(hub);
  const cookie = await c.login('admin', PASSWORD);

  const middle = base + Math.floor(n / 2) * 1000;
  const middleId = `00000000-0000-4000-8000-${String(Math.floor(n / 2)).padStart(12, '0')}`;
  const queries: Array<{ label: string; query: string; check: (s: StreamPage['streams'][number]) => boolean; rows: number }> = [
    { label: 'newest page', query: '', check: () => true, rows: 50 },
    { label: 'one device', query: 'deviceId=dev-01234', check: (s) => s.deviceId === 'dev-01234', rows: 50 },
    { label: 'one operator', query: 'operator=op-7', check: (s) => s.operator === 'op-7', rows: 50 },
    { label: 'result rejected (1 in 10)', query: 'result=rejected', check: (s) => s.result === 'rejected', rows: 50 },
    { label: 'result throttled (1 in 5,000)', query: 'result=throttled', check: (s) => s.result === 'throttled', rows: 50 },
    { label: 'result handshakeTimeout (none)', query: 'result=handshakeTimeout', check: () => false, rows: 0 },
    { label: `a page ${Math.floor(n / 2).toLocaleString('en')} records deep (keyset)`, query: `before=${middle}&beforeId=${middleId}`, check: (s) => Date.parse(s.createdAt) <= middle, rows: 50 },
    { label: "one device's last day", query: `deviceId=dev-00042&since=${Date.now() - 86_400_000}`, check: (s) => s.deviceId === 'dev-00042', rows: 4 },
  ];
  const rows: BenchResult['rows'] = [];
  const raw: Record<string, number[]> = {};
  for (const q of queries) {
    const ms: number[] = [];
    for (let i = 0; i < samples + 3; i++) {
      const t = nowMs();
      const r = await c.call('GET', `/api/streams?limit=50${q.query === '' ? '' : `&${q.query}`}`, { cookie });
      const took = nowMs() - t;
      const page = r.json as StreamPage;
      if (r.status !== 200) throw new Error(`history ${q.label}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      const times = page.streams.map((s) => Date.parse(s.createdAt));
      if (page.streams.length < Math.min(q.rows, 50) || !page.streams.every(q.check) || times.some((v, k) => k > 0 && v > (times[k - 1] as number))) {
        throw new Error(`history ${q.label}: a wrong answer (${page.streams.length} rows)`);
      }
      if (i >= 3) ms.push(took);
    }
    raw[q.label] = ms;
    const p50 = quantile(ms, 0.5);
    rows.push({
      bench: 'history',
      metric: `console history, ${n.toLocaleString('en')} records: ${q.label}, p50 (p99 ${fmtMs(quantile(ms, 0.99))})`,
      project: fmtMs(p50),
      comparison: '',
      ratio: '',
      target: '≤ 50 ms',
      status: status(p50 <= 50),
    });
  }
  return {
    name: 'history',
    description: 'the console history page (GET /api/streams) over a single hub with a million stream records',
    rows,
    raw: { records: n, samples, millisecondsByQuery: raw },
  };
}
