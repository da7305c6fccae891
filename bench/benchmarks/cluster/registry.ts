/**
 * The cluster benchmark's registry phase: a fleet seeded straight into PostgreSQL, then the hub's
 * `GET /devices?top=50` and the console's `GET /api/devices?limit=50`, each with and without
 * `search=`, through the balancer; every answer checked.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent as HttpsAgent, request } from 'node:https';
import pg from 'pg';
import { createServiceClient, type ServiceClient } from '../../../server/sdk/service-client.js';
import type { TestCluster } from '../../../test/fixtures/cluster.js';
import { status, type PhaseResult, type Row } from '../../lib/result.js';
import { fmtMs, fmtRatio, nowMs, percentiles, progress, quantile } from '../../lib/util.js';
import { cpuMeter, fmtCpu } from './accounting.js';

export const ADMIN_PASSWORD = 'bench-cluster-admin-pw';
/** Devices a seeding statement inserts. */
export const SEED_BATCH = 5000;
const TARGET_PAGE_MS = 50;
const TARGET_SEARCH_MS = 100;

/**
 * Device ids of the seeded fleet: kind, site, serial (`pump-s042-000123`), so searches have the
 * selectivities an operator meets: a kind (a fifth of the fleet), a site (1/200), a kind and the
 * first digit of a site (1/10), part of a serial (a handful), a whole id, a typo (nothing).
 */
const KINDS = ['pump', 'valve', 'meter', 'sensor', 'gate'] as const;
export function fleetId(i: number): string {
  return `${KINDS[i % KINDS.length]}-s${String(Math.floor(i / KINDS.length) % 200).padStart(3, '0')}-${String(i).padStart(6, '0')}`;
}

function searchTerms(n: number): Array<{ term: string; what: string }> {
  const some = Math.min(n - 1, 12_345);
  return [
    { term: 'pump', what: 'a kind (1/5 of the fleet)' },
    { term: 's042', what: 'a site (1/200)' },
    { term: 'valve-s1', what: 'a kind and a site prefix (1/10, late in id order)' },
    { term: String(some).padStart(6, '0').slice(1), what: 'part of a serial (a handful)' },
    { term: fleetId(Math.floor(n / 2)), what: 'a whole id (one)' },
    { term: 'pmup', what: 'a typo (none)' },
  ];
}

/**
 * Inserts `n` devices (ids from fleetId) with one statement per batch (unnest of arrays), then
 * ANALYZE; resolves with the primary keys of the first `keep` (the idle devices' credentials).
 */
export async function seedRegistry(storeUrl: string, n: number, keep: number): Promise<{ keys: string[]; ms: number }> {
  const client = new pg.Client({ connectionString: storeUrl });
  await client.connect();
  const keys: string[] = [];
  const t0 = nowMs();
  try {
    for (let from = 0; from < n; from += SEED_BATCH) {
      const cols: string[][] = [[], [], [], [], []];
      const [ids, gens, etags, pks, sks] = cols as [string[], string[], string[], string[], string[]];
      for (let i = from; i < Math.min(n, from + SEED_BATCH); i++) {
        const pk = randomBytes(32).toString('base64');
        ids.push(fleetId(i));
        gens.push(randomUUID());
        etags.push(randomBytes(9).toString('base64'));
        pks.push(pk);
        sks.push(randomBytes(32).toString('base64'));
        if (i < keep) keys.push(pk);
      }
      await client.query(
        `INSERT INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_reason, status_updated_time, created_time)
         SELECT id, g, e, p, s, 'enabled', NULL, $6, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, g, e, p, s)`,
        [...cols, new Date().toISOString()],
      );
    }
    // What autovacuum does within a minute of such an insert; done now so the plans are the settled
    // ones. The ids' table is vacuumed (autovacuum does that after inserts too), which marks its
    // pages all-visible so a search walks its index alone; the test server commits asynchronously,
    // so its WAL is flushed first (VACUUM leaves pages whose commits are not yet flushed unmarked).
    await client.query('ANALYZE devices');
    await client.query('CHECKPOINT');
    await client.query('VACUUM ANALYZE device_ids');
  } finally {
    await client.end();
  }
  return { keys, ms: nowMs() - t0 };
}

/** A GET (or POST with a JSON body) on a keep-alive agent; resolves with status, body and milliseconds. */
function call(agent: HttpsAgent, ca: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined>; ms: number }> {
  const t0 = nowMs();
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: text === undefined ? 'GET' : 'POST', agent, ca, headers: { ...headers, ...(text === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers, ms: nowMs() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** `samples` rounds of a page and a search, hub REST and console, through the balancer; `n` devices registered. */
export async function registryPhase(c: TestCluster, n: number, samples: number): Promise<PhaseResult> {
  const lbUrl = c.handle.url;
  const ca = c.handle.ca;
  const terms = searchTerms(n);
  // One keep-alive connection per node through the balancer, used in turn: haproxy hands
  // consecutive new connections to the nodes in turn, so the samples are spread over the nodes.
  const conns = c.nodes.length;
  const rest: ServiceClient[] = Array.from({ length: conns }, () => createServiceClient(c.handle.ownerCs, { ca, hubUrl: lbUrl, maxConnections: 1 }));
  const agents = Array.from({ length: conns }, () => new HttpsAgent({ keepAlive: true, maxSockets: 1 }));
  const origin = new URL(lbUrl).origin;
  const login = await call(agents[0] as HttpsAgent, ca, `${lbUrl}/api/login`, { origin }, { username: 'admin', password: ADMIN_PASSWORD });
  if (login.status !== 200) throw new Error(`console login answered ${login.status}: ${login.text.slice(0, 200)}`);
  const cookie = String(login.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  const consoleGet = async (i: number, search?: string): Promise<{ ms: number; ids: string[] }> => {
    const query = `?limit=50${search === undefined ? '' : `&search=${encodeURIComponent(search)}`}`;
    const r = await call(agents[i % conns] as HttpsAgent, ca, `${lbUrl}/api/devices${query}`, { origin, cookie });
    if (r.status !== 200) throw new Error(`GET /api/devices${query} answered ${r.status}: ${r.text.slice(0, 200)}`);
    return { ms: r.ms, ids: (JSON.parse(r.text) as { devices: Array<{ deviceId: string }> }).devices.map((d) => d.deviceId) };
  };
  const restGet = async (i: number, search?: string): Promise<{ ms: number; ids: string[] }> => {
    const t0 = nowMs();
    const p = await (rest[i % conns] as ServiceClient).listDevicePage({ top: 50, ...(search === undefined ? {} : { search }) });
    return { ms: nowMs() - t0, ids: p.devices.map((d) => d.deviceId) };
  };

  let wrong = 0;
  // A page has 50 devices; every hit of a search contains the term.
  const checked = (r: { ms: number; ids: string[] }, search?: string): number => {
    if (search === undefined ? r.ids.length !== 50 : r.ids.some((id) => !id.toLowerCase().includes(search.toLowerCase()))) wrong += 1;
    return r.ms;
  };
  // Warm-up: every connection, every path, every term once (not measured).
  for (let i = 0; i < conns * 2; i++) {
    for (const search of [undefined, ...terms.map((t) => t.term)]) {
      checked(await restGet(i, search), search);
      checked(await consoleGet(i, search), search);
    }
  }
  const restPage: number[] = [];
  const consolePage: number[] = [];
  const restSearch: Record<string, number[]> = Object.fromEntries(terms.map((t) => [t.term, []]));
  const consoleSearch: Record<string, number[]> = Object.fromEntries(terms.map((t) => [t.term, []]));
  const meter = cpuMeter({ ...Object.fromEntries(c.nodes.map((nd) => [nd.id, [nd.proc.pid]])), postgres: [c.pg.proc().pid] });
  // Alternating: one of each kind per round, the search terms in turn.
  const measured = nowMs();
  for (let i = 0; i < samples; i++) {
    const term = (terms[i % terms.length] as { term: string }).term;
    restPage.push(checked(await restGet(i)));
    consolePage.push(checked(await consoleGet(i)));
    restSearch[term]?.push(checked(await restGet(i, term), term));
    consoleSearch[term]?.push(checked(await consoleGet(i, term), term));
    if ((i + 1) % 100 === 0) progress(`cluster/registry: ${i + 1}/${samples} rounds`);
  }
  const window = { fromMs: measured, toMs: nowMs() };
  const cpu = meter();
  for (const a of agents) a.destroy();

  const all = (m: Record<string, number[]>): number[] => Object.values(m).flat();
  const perTerm = (m: Record<string, number[]>): Array<{ term: string; what: string; p50: number; p99: number; n: number }> =>
    terms.map((t) => ({ term: t.term, what: t.what, p50: quantile(m[t.term] ?? [], 0.5), p99: quantile(m[t.term] ?? [], 0.99), n: (m[t.term] ?? []).length }));
  const slowest = (m: Record<string, number[]>): { term: string; what: string; p50: number } => perTerm(m).reduce((w, x) => (x.p50 > w.p50 ? x : w));
  const rs = slowest(restSearch);
  const cs = slowest(consoleSearch);
  const p50 = (v: number[]): number => quantile(v, 0.5);
  const page = { rest: p50(restPage), console: p50(consolePage) };
  const search = { rest: p50(all(restSearch)), console: p50(all(consoleSearch)) };
  progress(`cluster/registry: REST page p50 ${fmtMs(page.rest)}, search p50 ${fmtMs(search.rest)} (slowest "${rs.term}" ${fmtMs(rs.p50)}); console page ${fmtMs(page.console)}, search ${fmtMs(search.console)} (slowest "${cs.term}" ${fmtMs(cs.p50)}); CPU ms: ${fmtCpu(cpu)}`);
  const mix = `${terms.length} terms in turn`;
  const row = (metric: string, ms: number, target: number, comparison = '', ratio = ''): Row => ({ bench: 'cluster', metric, project: fmtMs(ms), comparison, ratio, target: `≤ ${target} ms`, status: status(ms <= target) });
  const rows: Row[] = [
    row(`registry GET /devices?top=50 p50 (${n.toLocaleString('en-US')} devices, via balancer)`, page.rest, TARGET_PAGE_MS),
    row(`registry GET /devices?top=50&search= p50 (${mix})`, search.rest, TARGET_SEARCH_MS),
    row(`registry search p50, slowest term "${rs.term}" (${rs.what})`, rs.p50, TARGET_SEARCH_MS),
    row('console GET /api/devices?limit=50 p50 (admin, via balancer)', page.console, TARGET_PAGE_MS, `${fmtMs(page.rest)} hub REST`, fmtRatio(page.console / page.rest)),
    row(`console /api/devices?limit=50&search= p50 (${mix})`, search.console, TARGET_SEARCH_MS, `${fmtMs(search.rest)} hub REST`, fmtRatio(search.console / search.rest)),
    row(`console search p50, slowest term "${cs.term}"`, cs.p50, TARGET_SEARCH_MS),
    { bench: 'cluster', metric: 'registry p99: page / search (hub REST)', project: `${fmtMs(quantile(restPage, 0.99))} / ${fmtMs(quantile(all(restSearch), 0.99))}`, comparison: '', ratio: '', target: 'reported', status: 'info' },
  ];
  if (wrong > 0) rows.push({ bench: 'cluster', metric: 'registry answers that were wrong (page not 50, or a search hit without the term)', project: String(wrong), comparison: '', ratio: '', target: 'none', status: 'FAILED' });
  return {
    rows,
    raw: {
      devices: n,
      roundsEach: samples,
      terms,
      wrongAnswers: wrong,
      restPageMs: percentiles(restPage),
      restSearchMs: percentiles(all(restSearch)),
      restSearchByTerm: perTerm(restSearch),
      consolePageMs: percentiles(consolePage),
      consoleSearchMs: percentiles(all(consoleSearch)),
      consoleSearchByTerm: perTerm(consoleSearch),
      cpuMs: cpu,
    },
    windows: { registry: window },
  };
}
