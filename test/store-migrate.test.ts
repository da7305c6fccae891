/**
 * `devicestreams store migrate`: a real single hub fills its data directory (devices, one disabled;
 * operators from the console and the CLI; a console setting; streams through a real agent; a
 * recorded terminal session), is stopped, and its store is moved into a real PostgreSQL. Both
 * stores are then read through the store interface and must hold the same rows, recordings and
 * secret. Refusals (a non-empty target, a missing data directory, bad flags) change nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceClient } from '../server/sdk/service-client.js';
import { openStore } from '../server/store/open.js';
import { newKey } from '../server/store/keys.js';
import type { Store } from '../server/store/store.js';
import { ConsoleClient, session, until } from './console-client.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import { startNats } from './fixtures/nats.js';
import { CLI, spawnCli, startAgent, startEchoServer, startHub, startShellServer, stopAll, tempDir, type HubHandle } from './harness.js';

const ADMIN_PASSWORD = 'migrate-admin-pw';
const RITA_PASSWORD = 'rita-password-1';
/** Whether `devicestreams hub` takes a cluster store yet (another change adds `--store`). */
const HUB_TAKES_STORE = execFileSync(process.execPath, [CLI, 'hub', '--help'], { encoding: 'utf8' }).includes('--store');

let hub: HubHandle;
let dataDir: string;
let pgServer: PostgresServer;
let targetUrl: string;
let echoPort: number;
let deviceCs: string;
let migrateOutput: string;
let sqliteSnapshot: Snapshot;
let recordedStreamId: string;
/** SHA-256 of the recording as the single hub served it. */
let recordingSha: string;

afterAll(stopAll);

/** Runs the CLI to its end; resolves with its exit code and output. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return { code, out: p.output() };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function readAll(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** Everything the migration moves, read through the engine-independent store interface. */
async function snapshot(store: Store) {
  const devices = [];
  for (let after: string | undefined; ;) {
    const page = await store.devices.page({ after, limit: 100 });
    devices.push(...page);
    if (page.length < 100) break;
    after = page.at(-1)?.deviceId;
  }
  const policies = (await store.policies.list()).map((p) => ({ ...p, rights: [...p.rights].sort() }));
  const operators = await Promise.all((await store.operators.list()).map((o) => store.operators.getWithHash(o.name)));
  const streams = [];
  for (let before: number | undefined, beforeId: string | undefined; ;) {
    const page = await store.streams.list({ before, beforeId, limit: 100 });
    streams.push(...page);
    if (page.length < 100) break;
    before = page.at(-1)?.createdAt;
    beforeId = page.at(-1)?.id;
  }
  const rows = [...(await store.recordings.getMany(streams.map((s) => s.id))).values()].sort((a, b) => a.streamId.localeCompare(b.streamId));
  const recordings = [];
  for (const row of rows) {
    const content = await store.recordingData.read(row.streamId, row.startedAt);
    recordings.push({ row, content: content === undefined ? undefined : await readAll(content) });
  }
  return {
    devices,
    policies,
    operators,
    streams,
    recordings,
    recordInput: await store.recordings.setting('recordInput'),
    tokenSecret: (await store.secrets.getOrCreate('stream-token.key', 32)).toString('base64'),
  };
}

async function withStore<T>(spec: { dataDir: string; url?: string }, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(spec);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  dataDir = tempDir('ds-migrate-');
  hub = await startHub([], dataDir, { DEVICESTREAMS_ADMIN_PASSWORD: ADMIN_PASSWORD });
  const shell = await startShellServer();
  const echo = await startEchoServer();
  echoPort = echo.port;
  const agent = await startAgent(hub, 'mig-dev', [`echo=127.0.0.1:${echoPort}`, shell.map]);
  deviceCs = await hub.service.deviceConnectionString('mig-dev');
  await hub.service.createDevice('mig-off', { status: 'disabled' });
  await hub.service.createDevice('mig-idle');
  await hub.service.updateDevice('mig-idle', { statusReason: 'spare unit' });

  // Operators: one through the console API, one through the CLI on the data directory.
  const c = new ConsoleClient(hub);
  const admin = await c.login('admin', ADMIN_PASSWORD);
  expect((await c.call('POST', '/api/operators', { cookie: admin, body: { name: 'rita', password: RITA_PASSWORD, role: 'operator' } })).status).toBe(201);
  expect((await cli(['operator', 'add', 'val', '--role', 'viewer', '--password-env', 'VAL_PW', '--data-dir', dataDir], { VAL_PW: 'val-password-1' })).code).toBe(0);
  expect((await c.call('PUT', '/api/settings', { cookie: admin, body: { recordInput: true } })).status).toBe(200);

  // The stream log: an echo stream with bytes each way, and one the agent rejects.
  const s = await hub.service.initiateStream('mig-dev', 'echo');
  s.write('hello through the hub');
  await new Promise<void>((resolve) => s.once('data', () => resolve()));
  s.end();
  await hub.service.initiateStream('mig-dev', 'nosuch', { connectTimeoutSeconds: 5, responseTimeoutSeconds: 5 }).catch(() => undefined);

  // A recorded terminal session, as an operator opens one in the console.
  const rita = await c.login('rita', RITA_PASSWORD);
  const t = session(c.terminalSocket('mig-dev', rita));
  await t.hello(80, 24);
  await until(() => t.statuses.some((x) => x.includes('"connected"')), 10_000, 'terminal connected');
  recordedStreamId = t.statuses.map((x) => JSON.parse(x) as { phase?: string; streamId?: string }).find((m) => m.phase === 'connected')?.streamId ?? '';
  t.type('echo migrate-$((6*7))\n');
  await until(() => /migrate-42/.test(t.output()));
  t.type('exit 3\n');
  await t.closed;
  await until(async () => ((await c.call('GET', `/api/recordings/${recordedStreamId}`, { cookie: rita })).json as { live?: boolean }).live === false, 10_000, 'recording finished');
  recordingSha = sha256(Buffer.from((await c.call('GET', `/api/recordings/${recordedStreamId}/cast`, { cookie: rita })).text, 'utf8'));
  await until(async () => (await hub.service.listStreams({})).streams.every((r) => r.state === 'ended'), 10_000, 'every stream ended');

  agent.kill();
  await agent.exited;
  hub.proc.kill('SIGTERM');
  await hub.proc.exited;

  pgServer = await startPostgres();
  targetUrl = await pgServer.createDatabase('cluster');
}, 120_000);

describe('store migrate', () => {
  it('moves every device, policy, operator, setting, stream record, recording and the token secret, reading the data directory only', async () => {
    const dbBefore = sha256(readFileSync(join(dataDir, 'hub.db')));
    const r = await cli(['store', 'migrate', '--from', dataDir, '--to', targetUrl]);
    migrateOutput = r.out;
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/moved 3 devices, 6 policies, 3 operators, 3 stream records, 1 recording \(0\.0 MiB\), 1 console setting and the stream-token secret in [\d.]+ s/);
    expect(r.out).toMatch(/not moved: \d+ login sessions? \(operators log in again/);
    expect(r.out).toMatch(/stop the hub/);
    expect(sha256(readFileSync(join(dataDir, 'hub.db')))).toBe(dbBefore);

    sqliteSnapshot = await withStore({ dataDir }, snapshot);
    const pgSnapshot = await withStore({ dataDir: tempDir(), url: targetUrl }, snapshot);
    expect(pgSnapshot).toEqual(sqliteSnapshot);

    // What the comparison covers is really there.
    expect(sqliteSnapshot.devices.map((d) => [d.deviceId, d.status, d.statusReason])).toEqual([
      ['mig-dev', 'enabled', null], ['mig-idle', 'enabled', 'spare unit'], ['mig-off', 'disabled', null],
    ]);
    expect(sqliteSnapshot.devices.find((d) => d.deviceId === 'mig-dev')?.lastActivityTime).not.toBeNull();
    expect(sqliteSnapshot.operators.map((o) => [o?.name, o?.role])).toEqual([['admin', 'admin'], ['rita', 'operator'], ['val', 'viewer']]);
    expect(sqliteSnapshot.operators.every((o) => /^\S{20,}$/.test(o?.passwordHash ?? ''))).toBe(true);
    expect(sqliteSnapshot.streams.map((s) => s.result).sort()).toEqual(['accepted', 'accepted', 'rejected']);
    expect(sqliteSnapshot.streams.every((s) => s.node === 'local')).toBe(true);
    expect(sqliteSnapshot.streams.some((s) => s.gatewayNode === 'local' && s.bytesToDevice > 0 && s.bytesFromDevice > 0)).toBe(true);
    expect(sqliteSnapshot.recordInput).toBe('true');
    const [rec] = sqliteSnapshot.recordings;
    expect(rec?.row).toMatchObject({ streamId: recordedStreamId, deviceId: 'mig-dev', operator: 'rita', inputRecorded: true });
    expect(rec?.content?.toString('utf8')).toMatch(/migrate-42/);
    expect(rec?.content?.length).toBe(rec?.row.size);
    expect(sqliteSnapshot.tokenSecret).toBe(readFileSync(join(dataDir, 'secrets', 'stream-token.key'), 'utf8').trim());
  });

  it('stores a large recording as ordered 64 KiB chunks, byte for byte', async () => {
    // A hub's own recordings are small here; this one is written straight into a data directory.
    const dir = tempDir('ds-migrate-big-');
    const content = Buffer.alloc(200 * 1024 + 123);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
    await withStore({ dataDir: dir }, async (s) => {
      await s.devices.create('big-dev', { status: 'enabled', statusReason: null, primaryKey: newKey(), secondaryKey: newKey() });
      await s.streams.create({ id: 'big-stream', deviceId: 'big-dev', streamName: 'shell', initiator: 'console', operator: null, createdAt: Date.now(), node: 'local' });
      await s.recordings.insert({ streamId: 'big-stream', deviceId: 'big-dev', operator: null, operatorId: null, node: 'local', startedAt: Date.now(), inputRecorded: false, cols: 80, rows: 24 });
      const row = await s.recordings.get('big-stream');
      const sink = s.recordingData.create('big-stream', row?.startedAt ?? 0);
      sink.write(content);
      await sink.close();
      await s.recordings.update('big-stream', { size: content.length, durationMs: 10, truncated: false, endedAt: Date.now() });
    });
    const url = await pgServer.createDatabase('big');
    const r = await cli(['store', 'migrate', '--from', dir, '--to', url]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/1 recording \(0\.2 MiB\)/);
    expect(r.out).toMatch(/the hub had no stream-token secret yet/);
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    try {
      const chunks = (await client.query<{ seq: number; n: number }>("SELECT seq, length(data) AS n FROM recording_chunks WHERE stream_id = 'big-stream' ORDER BY seq")).rows;
      expect(chunks).toEqual([{ seq: 0, n: 65536 }, { seq: 1, n: 65536 }, { seq: 2, n: 65536 }, { seq: 3, n: 8315 }]);
    } finally {
      await client.end();
    }
    const moved = await withStore({ dataDir: tempDir(), url }, async (s) => {
      const row = await s.recordings.get('big-stream');
      const stream = await s.recordingData.read('big-stream', row?.startedAt ?? 0);
      return stream === undefined ? undefined : readAll(stream);
    });
    expect(moved?.equals(content)).toBe(true);
  });

  it('refuses a database that is not empty, with a one-line reason, and changes nothing', async () => {
    const before = await withStore({ dataDir: tempDir(), url: targetUrl }, snapshot);
    const again = await cli(['store', 'migrate', '--from', dataDir, '--to', targetUrl]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/^devicestreams store: the target database is not empty \(it holds 3 devices, 3 operators, 3 stream records, recordings\): migrate into a new, empty database .*; nothing was changed$/m);
    expect(await withStore({ dataDir: tempDir(), url: targetUrl }, snapshot)).toEqual(before);

    // Any one kind is enough: here a single operator, made by a node that started on the database.
    const url = await pgServer.createDatabase('one_operator');
    await withStore({ dataDir: tempDir(), url }, (s) => s.operators.create('someone', 'hash', 'admin', 1));
    const refused = await cli(['store', 'migrate', '--from', dataDir, '--to', url]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/not empty \(it holds 1 operator\)/);
    await withStore({ dataDir: tempDir(), url }, async (s) => {
      expect((await s.devices.counts()).total).toBe(0);
      expect((await s.operators.list()).map((o) => o.name)).toEqual(['someone']);
      expect(await s.policies.list()).toEqual([]);
    });

    // A node writing into the database (it holds a write lock on the stream log) is waited for
    // briefly, then named as the reason.
    const busy = await pgServer.createDatabase('busy');
    await withStore({ dataDir: tempDir(), url: busy }, (s) => s.ping());
    const pg = await import('pg');
    const node = new pg.default.Client({ connectionString: busy });
    await node.connect();
    try {
      await node.query('BEGIN');
      await node.query('LOCK TABLE streams IN ROW EXCLUSIVE MODE');
      const locked = await cli(['store', 'migrate', '--from', dataDir, '--to', busy]);
      expect(locked.code).toBe(1);
      expect(locked.out).toMatch(/^devicestreams store: the target database is in use \(its tables stayed locked for 5 s\): stop every node running on it/m);
      await node.query('ROLLBACK');
    } finally {
      await node.end();
    }
    await withStore({ dataDir: tempDir(), url: busy }, async (s) => {
      expect((await s.devices.counts()).total).toBe(0);
      expect(await s.policies.list()).toEqual([]);
    });
  });

  it('says clearly when the data directory is missing or holds no hub store, or the database cannot be reached', async () => {
    const missing = join(tempDir(), 'nope');
    const r = await cli(['store', 'migrate', '--from', missing, '--to', targetUrl]);
    expect(r.code).toBe(1);
    expect(r.out.trim()).toBe(`devicestreams store: no such data directory: ${missing}`);
    const empty = tempDir();
    mkdirSync(join(empty, 'recordings'));
    const e = await cli(['store', 'migrate', '--from', empty, '--to', targetUrl]);
    expect(e.code).toBe(1);
    expect(e.out).toMatch(/holds no hub store \(no hub\.db\)/);
    const down = await cli(['store', 'migrate', '--from', dataDir, '--to', 'postgres://postgres@127.0.0.1:1/none']);
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/^devicestreams store: cannot open the target store: .*cannot be reached/m);
  });

  it('has help with examples, and answers bad flags with one line and exit code 2', async () => {
    const help = await cli(['store', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/migrate .*cluster store/);
    expect(help.out).toMatch(/Example:\n {2}devicestreams store migrate --from/);
    const mhelp = await cli(['store', 'migrate', '--help']);
    expect(mhelp.code).toBe(0);
    expect(mhelp.out).toMatch(/Usage: devicestreams store migrate --from DATA_DIR --to postgres:/);
    expect(mhelp.out).toMatch(/Examples:/);
    expect(mhelp.out).toMatch(/sessions are not moved/);
    const cases = [
      [['store'], /name a command: migrate/],
      [['store', 'frob'], /unknown store command "frob"/],
      [['store', 'migrate', '--from', dataDir, '--to', targetUrl, '--force'], /Unknown option '--force'/],
      [['store', 'migrate', '--to', targetUrl], /--from DATA_DIR is required/],
      [['store', 'migrate', '--from', dataDir], /--to postgres:.* is required/],
      [['store', 'migrate', '--from', dataDir, '--to', 'mysql://x/y'], /--to must be a postgres:\/\/ URL/],
      [['store', 'migrate', 'extra', '--from', dataDir, '--to', targetUrl], /unexpected argument "extra"/],
    ] as const;
    const answers = await Promise.all(cases.map(([args]) => cli([...args])));
    for (const [i, [, re]] of cases.entries()) {
      const r = answers[i] ?? { code: null, out: '' };
      expect(r.code, r.out).toBe(2);
      expect(r.out.trim().split('\n')).toHaveLength(1);
      expect(r.out).toMatch(re);
    }
  });

  it.runIf(HUB_TAKES_STORE)('serves the same devices, history and recordings as a cluster node (store and bus), with the old connection strings and passwords', async () => {
    expect(migrateOutput).toBeDefined();
    // The hub keeps its data directory for TLS; its SQLite store and secrets are moved aside, so
    // everything it knows comes from the cluster store.
    renameSync(join(dataDir, 'hub.db'), join(dataDir, 'hub.db.migrated'));
    renameSync(join(dataDir, 'secrets'), join(dataDir, 'secrets.migrated'));
    // On the old port: the connection strings name it.
    const nats = await startNats();
    const proc = spawnCli(['hub', '--data-dir', dataDir, '--store', targetUrl, '--bus', nats.url, '--node-id', 'migrated-node', '--port', String(hub.port), '--heartbeat-interval', '1'], { DEVICESTREAMS_ADMIN_PASSWORD: 'not-the-old-one' });
    const cluster = { ...hub, proc, url: (await proc.waitFor(/READY (https:\/\/\S+)/))[1] as string };
    expect(cluster.url).toBe(hub.url);
    const owner = createServiceClient(hub.ownerCs, { ca: hub.ca, hubUrl: cluster.url });
    expect((await owner.listDevices()).map((d) => d.deviceId).sort()).toEqual(['mig-dev', 'mig-idle', 'mig-off']);
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`], { DEVICE_CONNECTION_STRING: deviceCs });
    await agent.waitFor(/connected to the hub/);
    const s = await owner.initiateStream('mig-dev', 'echo');
    s.write('after the move');
    const echoed = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    expect(echoed).toBe('after the move');
    s.end();
    const c = new ConsoleClient(cluster);
    expect(await c.login('rita', RITA_PASSWORD)).toMatch(/^__Host-ds_session=/);
    const admin = await c.login('admin', ADMIN_PASSWORD);
    // The history the single hub had, newest first, through the console.
    const history = (await c.call('GET', '/api/streams?limit=200', { cookie: admin })).json as { streams: Array<{ streamId: string }> };
    const migratedIds = sqliteSnapshot.streams.map((r) => r.id);
    expect(history.streams.map((r) => r.streamId).filter((id) => migratedIds.includes(id))).toEqual(migratedIds);
    // The recording replays from the cluster store, byte for byte.
    const cast = await c.call('GET', `/api/recordings/${recordedStreamId}/cast`, { cookie: admin });
    expect(cast.status).toBe(200);
    expect(sha256(Buffer.from(cast.text, 'utf8'))).toBe(recordingSha);
  });
});
