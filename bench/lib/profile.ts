/**
 * Reads V8 CPU profiles (`node --cpu-prof`) and lists where the time went: self time by function,
 * and by area (WebSocket library, TLS, streams, our own server code, GC, idle).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; percentOfBusy: number }>;
  areas: Array<{ area: string; selfMs: number; percentOfBusy: number }>;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/work\/main\//, '');
}

function area(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('node_modules/ws/')) return 'ws (WebSocket framing)';
  if (url.includes('node_modules/bufferutil')) return 'bufferutil (masking)';
  if (/node:internal\/(tls|crypto)|_tls_/.test(url) || url === 'node:tls' || url.startsWith('node:_tls')) return 'node TLS';
  if (/node:internal\/streams|node:stream/.test(url)) return 'node streams';
  if (/node:(net|internal\/net|internal\/stream_base_commons)/.test(url)) return 'node net';
  if (/node:events|node:internal\/event_target/.test(url)) return 'node events';
  if (url.includes('/server/') || url.includes('/shared/') || url.includes('/device/')) return 'devicestreams code';
  if (url.includes('better-sqlite3')) return 'sqlite';
  if (url.includes('node_modules/')) return `other: ${shortUrl(url).split('/').slice(0, 2).join('/')}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0] ?? ''}`;
  if (url === '') return 'native / builtins';
  return 'other';
}

/**
 * Self time by function and by area. With `window` (milliseconds of the monotonic clock, as
 * `nowMs()` in bench/lib/util.ts reads it; V8 stamps its samples with the same clock), only the
 * samples taken in that span count: one phase of a benchmark out of a whole process's profile.
 */
export function summarizeProfile(file: string, topN = 15, window?: { fromMs: number; toMs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let at = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window !== undefined && (at < window.fromMs * 1000 || at > window.toMs * 1000)) continue;
    // Each sample's time is the delta to the next one.
    const dt = deltas[i + 1] ?? 0;
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const fnTotals = new Map<string, { fn: string; where: string; us: number }>();
  const areaTotals = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const fn = n.callFrame.functionName || '(anonymous)';
    const url = n.callFrame.url;
    total += us;
    if (fn === '(idle)') idle += us;
    const key = `${fn}@${url}:${n.callFrame.lineNumber}`;
    const e = fnTotals.get(key) ?? { fn, where: url === '' ? '' : `${shortUrl(url)}:${n.callFrame.lineNumber + 1}`, us: 0 };
    e.us += us;
    fnTotals.set(key, e);
    const a = area(fn, url);
    areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: [...fnTotals.values()]
      .filter((e) => e.fn !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, percentOfBusy: (100 * e.us) / busy })),
    areas: [...areaTotals.entries()]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([a, us]) => ({ area: a, selfMs: us / 1000, percentOfBusy: (100 * us) / busy })),
  };
}

/** Profiles in `dir` written after `sinceMs`. */
export function newProfiles(dir: string, sinceMs: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)) // main threads only (tsx runs a loader thread)
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= sinceMs);
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`  ${s.file}: ${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s`];
  lines.push('  by area:');
  for (const a of s.areas.slice(0, 10)) lines.push(`    ${a.percentOfBusy.toFixed(1).padStart(5)}%  ${a.area}`);
  lines.push('  top functions (self time):');
  for (const t of s.top) lines.push(`    ${t.percentOfBusy.toFixed(1).padStart(5)}%  ${t.fn}  ${t.where}`);
  return lines.join('\n');
}
