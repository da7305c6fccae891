/**
 * Moves a single hub's embedded store (SQLite and files in its data directory) into an empty
 * cluster store (PostgreSQL): the registry, policies with their keys, operators, console settings,
 * the stream log, recordings with their content, and the stream-token secret — so connection
 * strings, passwords and issued stream tokens keep working. Login sessions are not moved, nor are
 * enrollment tokens: they live an hour or so, and their install commands name the single hub's URL
 * and CA, which a cluster behind a balancer does not answer with (the summary counts those left).
 *
 * The source is opened read-only and read inside one SQLite read transaction, so the copy is one
 * consistent snapshot even if a hub is still writing (what it writes later is not moved). The target
 * is written in one PostgreSQL transaction holding write locks on every table it fills: a failure
 * leaves it as it was, and nothing else writes into it meanwhile. Rows are read and inserted
 * `batchRows` at a time and recording files streamed in chunks, so memory stays bounded whatever
 * the size of the store.
 */
import SqliteDatabase from 'better-sqlite3';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { openStore } from './open.js';
import { Database } from './postgres/pool.js';
import { recordingFile } from './sqlite/recordings.js';
import type { Store } from './store.js';

/** A failure the user can act on (the message says how); other errors are unexpected. */
export class MigrateError extends Error {}

export interface MigrateOptions {
  /** The single hub's data directory (holds hub.db, secrets/, recordings/). */
  dataDir: string;
  /** `postgres://…` of an empty database. */
  url: string;
  /** Progress and advice, one line each. */
  log?: (line: string) => void;
  /** Rows per read and per INSERT (default 1000). */
  batchRows?: number;
}

export interface MigrateSummary {
  devices: number;
  policies: number;
  /** Policies the target had already (a node started on it made them), replaced by the hub's. */
  policiesReplaced: number;
  operators: number;
  settings: number;
  streams: number;
  /** Stream records not yet ended in the source (a hub stopped uncleanly or still running). */
  liveStreams: number;
  recordings: number;
  recordingBytes: number;
  /** Recording rows whose file was missing (moved as rows without content). */
  recordingsWithoutContent: number;
  /** Whether the stream-token secret was moved (false: the hub had none yet). */
  secret: boolean;
  /** Login sessions left behind (operators log in again). */
  sessionsLeft: number;
  /** Unused, unexpired enrollment tokens left behind (create new ones against the cluster). */
  enrollmentTokensLeft: number;
  elapsedMs: number;
}

/** The name of the stream-token secret, in secrets/ of a data directory and in the `secrets` table. */
const TOKEN_SECRET = 'stream-token.key';
/** What the live recording writer uses (server/store/postgres/recordings.ts); replay reads any size. */
const CHUNK_BYTES = 64 * 1024;
/** Chunks per INSERT: at most 1 MiB of recording in memory. */
const CHUNKS_PER_INSERT = 16;
/** How long to wait for another session's locks on the target before giving up. */
const LOCK_TIMEOUT_S = 5;
/** At most one progress line per table in this interval. */
const PROGRESS_MS = 1000;

type Row = Record<string, unknown>;

interface TableSpec {
  table: string;
  /** Unique key for keyset paging, in the source and the target. */
  key: string;
  columns: readonly string[];
  /** Source row to target values; the columns as they are by default. */
  values?: (row: Row) => unknown[];
}

// Not `connected_since`: it only orders a cluster's connection writes (NULL takes any), and a data
// directory an earlier release wrote, opened read-only here, does not have it.
const DEVICES: TableSpec = {
  table: 'devices',
  key: 'device_id',
  columns: ['device_id', 'generation_id', 'etag', 'primary_key', 'secondary_key', 'status', 'status_reason', 'status_updated_time', 'created_time',
    'last_activity_time', 'connection_state_updated_time', 'connected_node', 'tags', 'agent', 'services'],
};
const POLICIES: TableSpec = { table: 'policies', key: 'name', columns: ['name', 'primary_key', 'secondary_key', 'rights'] };
const OPERATORS: TableSpec = { table: 'operators', key: 'name', columns: ['id', 'name', 'password_hash', 'role', 'created_at'] };
const SETTINGS: TableSpec = { table: 'settings', key: 'name', columns: ['name', 'value'] };
const STREAMS: TableSpec = {
  table: 'streams',
  key: 'id',
  columns: ['id', 'device_id', 'stream_name', 'initiator', 'operator', 'state', 'result', 'reason', 'created_at', 'accepted_at', 'connected_at', 'ended_at',
    'closed_by', 'close_code', 'bytes_to_device', 'bytes_from_device', 'node', 'gateway_node', 'transfer'],
};
const RECORDING_COLUMNS = ['stream_id', 'device_id', 'operator', 'operator_id', 'node', 'started_at', 'ended_at', 'duration_ms', 'size', 'truncated',
  'input_recorded', 'cols', 'rows'] as const;
const RECORDINGS: TableSpec = {
  table: 'recordings',
  key: 'stream_id',
  columns: RECORDING_COLUMNS,
  // SQLite keeps booleans as 0/1.
  values: (r) => RECORDING_COLUMNS.map((c) => (c === 'truncated' || c === 'input_recorded' ? r[c] === 1 : r[c])),
};

/** The tables the migration fills; it holds write locks on all of them while it runs. */
const TARGET_TABLES = ['devices', 'policies', 'operators', 'sessions', 'settings', 'streams', 'recordings', 'recording_chunks', 'secrets'];

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Opens the source read-only and checks it has every column the copy reads. */
function openSource(dataDir: string): SqliteDatabase.Database {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new MigrateError(`no such data directory: ${dataDir}`);
  const path = join(dataDir, 'hub.db');
  if (!existsSync(path)) throw new MigrateError(`${dataDir} holds no hub store (no hub.db); pass the data directory the hub runs on`);
  let db: SqliteDatabase.Database;
  try {
    db = new SqliteDatabase(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new MigrateError(`cannot open ${path} read-only: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const spec of [DEVICES, POLICIES, OPERATORS, SETTINGS, STREAMS, RECORDINGS]) {
    const have = new Set((db.pragma(`table_info(${spec.table})`) as Array<{ name: string }>).map((c) => c.name));
    const missing = spec.columns.filter((c) => !have.has(c));
    if (missing.length > 0) {
      db.close();
      throw new MigrateError(
        `${path} is from an older release (${spec.table} lacks ${missing.join(', ')}): start the hub on it once with this release, stop it, then migrate`,
      );
    }
  }
  return db;
}

/** The stream-token secret as the hub reads it (base64 in a file), or undefined when it has none. */
function readTokenSecret(dataDir: string): Buffer | undefined {
  const path = join(dataDir, 'secrets', TOKEN_SECRET);
  if (!existsSync(path)) return undefined;
  const value = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  // The hub replaces a secret this short with a new one (server/secrets.ts), so it signs nothing.
  return value.length >= 16 ? value : undefined;
}

function count(db: SqliteDatabase.Database, sql: string): number {
  return (db.prepare(sql).get() as { n: number }).n;
}

/** `INSERT INTO t (…) VALUES ($1,…),(…)` for `rows` rows of `columns`. */
function insertSql(table: string, columns: readonly string[], rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(',')})`);
  return `INSERT INTO ${table} (${columns.join(',')}) VALUES ${tuples.join(',')}`;
}

/** Moves a data directory's store into the empty PostgreSQL database at `url`. */
export async function migrateStore(o: MigrateOptions): Promise<MigrateSummary> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const batch = o.batchRows ?? 1000;
  const dataDir = resolve(o.dataDir);
  const source = openSource(dataDir);
  try {
    const wal = join(dataDir, 'hub.db-wal');
    if (existsSync(wal) && statSync(wal).size > 0) {
      log('warning: hub.db-wal is not empty: a hub may be running on this data directory (or stopped uncleanly); what it writes from now on is not moved — stop it first');
    } else {
      log('note: stop the hub on this data directory before migrating; what it writes after the copy starts is not moved');
    }
    // One snapshot of the source for the whole copy (a read transaction in WAL mode).
    source.exec('BEGIN');
    try {
      return await copy(source, dataDir, o.url, batch, log, started);
    } finally {
      source.exec('COMMIT');
    }
  } finally {
    source.close();
  }
}

async function copy(source: SqliteDatabase.Database, dataDir: string, url: string, batch: number, log: (line: string) => void, started: number): Promise<MigrateSummary> {
  // Opened through openStore so the target's schema migrations run first (under their lock).
  let store: Store;
  try {
    store = await openStore({ dataDir, url, log });
  } catch (err) {
    throw new MigrateError(`cannot open the target store: ${err instanceof Error ? err.message : String(err)}`);
  }
  const target = new Database(url, log, 1);
  try {
    const totals = {
      devices: count(source, 'SELECT COUNT(*) AS n FROM devices'),
      streams: count(source, 'SELECT COUNT(*) AS n FROM streams'),
      recordings: count(source, 'SELECT COUNT(*) AS n FROM recordings'),
    };
    const liveStreams = count(source, "SELECT COUNT(*) AS n FROM streams WHERE state != 'ended'");
    const sessionsLeft = count(source, `SELECT COUNT(*) AS n FROM sessions WHERE expires_at > ${Date.now()}`);
    const enrollmentTokensLeft = count(source, `SELECT COUNT(*) AS n FROM enrollment_tokens WHERE used_at IS NULL AND expires_at > ${Date.now()}`);
    const secret = readTokenSecret(dataDir);
    log(`source ${dataDir}: ${plural(totals.devices, 'device')}, ${plural(totals.streams, 'stream record')}, ${plural(totals.recordings, 'recording')}; target ${store.location}`);

    const summary = await target.transaction(async (client) => {
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT_S}s'`);
      try {
        await client.query(`LOCK TABLE ${TARGET_TABLES.join(', ')} IN EXCLUSIVE MODE`);
      } catch (err) {
        if ((err as { code?: unknown }).code === '55P03') {
          throw new MigrateError(`the target database is in use (its tables stayed locked for ${LOCK_TIMEOUT_S} s): stop every node running on it, then migrate`);
        }
        throw err;
      }
      await refuseNonEmpty(client);
      const policiesReplaced = (await client.query('DELETE FROM policies')).rowCount ?? 0;
      if (policiesReplaced > 0) log(`the target had ${plural(policiesReplaced, 'policy', 'policies')} (a node started on it made them): replaced by the hub's, so its connection strings keep working`);

      const copied = {
        devices: await copyTable(source, client, DEVICES, batch, log, totals.devices),
        policies: await copyTable(source, client, POLICIES, batch, log),
        operators: await copyTable(source, client, OPERATORS, batch, log),
        settings: 0,
        streams: await copyTable(source, client, STREAMS, batch, log, totals.streams),
      };
      // A setting the target has (a node started on it) gives way to the hub's.
      await client.query('DELETE FROM settings');
      copied.settings = await copyTable(source, client, SETTINGS, batch, log);
      const rec = await copyRecordings(source, client, dataDir, batch, log, totals.recordings);
      if (secret !== undefined) {
        await client.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [TOKEN_SECRET, secret]);
      }
      // What the target holds now must be exactly what was read, or nothing is committed.
      for (const [table, n] of [['devices', copied.devices], ['streams', copied.streams], ['operators', copied.operators], ['recordings', rec.recordings]] as const) {
        const [r] = (await client.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows;
        if (r?.n !== n) throw new Error(`the target holds ${r?.n ?? 0} ${table} after copying ${n}; nothing was committed`);
      }
      return { ...copied, ...rec, policiesReplaced };
    });
    const now = await store.devices.counts().catch(() => undefined);
    log(`committed${now === undefined ? '' : `; the cluster store now has ${plural(now.total, 'device')} (${now.disabled} disabled)`}`);
    return { ...summary, liveStreams, secret: secret !== undefined, sessionsLeft, enrollmentTokensLeft, elapsedMs: Date.now() - started };
  } finally {
    await target.close().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** Throws, naming what is there, when the target holds any data the hub's would be mixed with. */
async function refuseNonEmpty(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ devices: number; operators: number; streams: number; recordings: number; chunks: number }>(
    `SELECT (SELECT COUNT(*) FROM devices)::int AS devices, (SELECT COUNT(*) FROM operators)::int AS operators,
            (SELECT COUNT(*) FROM streams)::int AS streams, (SELECT COUNT(*) FROM recordings)::int AS recordings,
            (SELECT COUNT(*) FROM recording_chunks)::int AS chunks`,
  );
  const r = rows[0];
  if (r === undefined) return;
  const held = [
    r.devices > 0 ? plural(r.devices, 'device') : '',
    r.operators > 0 ? plural(r.operators, 'operator') : '',
    r.streams > 0 ? plural(r.streams, 'stream record') : '',
    r.recordings + r.chunks > 0 ? 'recordings' : '',
  ].filter(Boolean);
  if (held.length > 0) {
    throw new MigrateError(`the target database is not empty (it holds ${held.join(', ')}): migrate into a new, empty database (e.g. createdb devicestreams), so nothing is mixed; nothing was changed`);
  }
}

/** A progress printer for one table: at most one line a second, and one at the end. */
function progress(log: (line: string) => void, what: string, total: number | undefined): { step(n: number): void; done(n: number): void } {
  let last = Date.now();
  return {
    step(n) {
      if (Date.now() - last < PROGRESS_MS) return;
      last = Date.now();
      log(`${what}: ${n}${total === undefined ? '' : `/${total}`}`);
    },
    done(n) {
      log(`${what}: ${n} moved`);
    },
  };
}

/** Reads `spec.table` from the source in key order, `batch` rows at a time; calls `each` per page. */
async function forEachPage(source: SqliteDatabase.Database, spec: TableSpec, batch: number, each: (rows: Row[]) => Promise<void>): Promise<void> {
  const cols = spec.columns.join(',');
  const first = source.prepare(`SELECT ${cols} FROM ${spec.table} ORDER BY ${spec.key} LIMIT ?`);
  const next = source.prepare(`SELECT ${cols} FROM ${spec.table} WHERE ${spec.key} > ? ORDER BY ${spec.key} LIMIT ?`);
  let after: unknown;
  for (;;) {
    const rows = (after === undefined ? first.all(batch) : next.all(after, batch)) as Row[];
    if (rows.length === 0) return;
    await each(rows);
    if (rows.length < batch) return;
    after = rows.at(-1)?.[spec.key];
  }
}

async function insertRows(client: pg.PoolClient, spec: TableSpec, rows: Row[]): Promise<void> {
  const values = rows.flatMap((r) => (spec.values !== undefined ? spec.values(r) : spec.columns.map((c) => r[c])));
  await client.query(insertSql(spec.table, spec.columns, rows.length), values);
}

async function copyTable(source: SqliteDatabase.Database, client: pg.PoolClient, spec: TableSpec, batch: number, log: (line: string) => void, total?: number): Promise<number> {
  const p = progress(log, spec.table, total);
  let n = 0;
  await forEachPage(source, spec, batch, async (rows) => {
    await insertRows(client, spec, rows);
    n += rows.length;
    p.step(n);
  });
  p.done(n);
  return n;
}

/** Recording rows, then each one's file as ordered chunks; a missing file moves as a row without content. */
async function copyRecordings(
  source: SqliteDatabase.Database,
  client: pg.PoolClient,
  dataDir: string,
  batch: number,
  log: (line: string) => void,
  total: number,
): Promise<{ recordings: number; recordingBytes: number; recordingsWithoutContent: number }> {
  const p = progress(log, 'recordings', total);
  let recordings = 0;
  let recordingBytes = 0;
  let recordingsWithoutContent = 0;
  await forEachPage(source, RECORDINGS, batch, async (rows) => {
    await insertRows(client, RECORDINGS, rows);
    for (const r of rows) {
      const streamId = r.stream_id as string;
      const file = join(dataDir, recordingFile(streamId, r.started_at as number));
      if (!existsSync(file)) {
        recordingsWithoutContent++;
        continue;
      }
      recordingBytes += await copyContent(client, streamId, file);
      recordings++;
      p.step(recordings);
    }
  });
  if (recordingsWithoutContent > 0) log(`${plural(recordingsWithoutContent, 'recording')} had no file under recordings/: moved as rows without content`);
  p.done(recordings + recordingsWithoutContent);
  return { recordings: recordings + recordingsWithoutContent, recordingBytes, recordingsWithoutContent };
}

/** Streams one file into `recording_chunks` in CHUNK_BYTES pieces; returns its size. */
async function copyContent(client: pg.PoolClient, streamId: string, file: string): Promise<number> {
  let seq = 0;
  let bytes = 0;
  let pending: Buffer[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const values = pending.flatMap((data, i) => [streamId, seq - pending.length + i, data]);
    await client.query(insertSql('recording_chunks', ['stream_id', 'seq', 'data'], pending.length), values);
    pending = [];
  };
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    const data = chunk as Buffer;
    pending.push(data);
    seq++;
    bytes += data.length;
    if (pending.length >= CHUNKS_PER_INSERT) await flush();
  }
  await flush();
  return bytes;
}
