/**
 * The embedded store's database: one SQLite file (WAL) in the data directory. Schema migrations are
 * plain numbered SQL steps applied in order and recorded in `user_version`, each in a transaction;
 * SQLite's write lock keeps two processes opening the same file from applying one twice.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateFile } from '../../data-dir.js';

export type Db = Database.Database;

/**
 * Prepared statements, made once per SQL text and reused (preparing costs more than running one
 * of these small statements). Bounded by the number of distinct SQL texts in the code.
 */
export class Statements {
  readonly #db: Db;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(db: Db) {
    this.#db = db;
  }

  get<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let stmt = this.#cache.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#cache.set(sql, stmt);
    }
    return stmt as unknown as Database.Statement<P, R>;
  }
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE devices (
     device_id TEXT PRIMARY KEY,
     generation_id TEXT NOT NULL,
     etag TEXT NOT NULL,
     primary_key TEXT NOT NULL,
     secondary_key TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('enabled','disabled')),
     status_reason TEXT,
     status_updated_time TEXT NOT NULL,
     created_time TEXT NOT NULL,
     last_activity_time TEXT,
     connection_state_updated_time TEXT
   );
   CREATE TABLE policies (
     name TEXT PRIMARY KEY,
     primary_key TEXT NOT NULL,
     secondary_key TEXT NOT NULL,
     rights TEXT NOT NULL
   );
   CREATE TABLE streams (
     id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     stream_name TEXT NOT NULL,
     initiator TEXT NOT NULL,
     operator TEXT,
     state TEXT NOT NULL CHECK (state IN ('pending','accepted','open','ended')),
     result TEXT,
     reason TEXT,
     created_at INTEGER NOT NULL,
     accepted_at INTEGER,
     connected_at INTEGER,
     ended_at INTEGER,
     closed_by TEXT,
     close_code INTEGER,
     bytes_to_device INTEGER NOT NULL DEFAULT 0,
     bytes_from_device INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX streams_created ON streams (created_at DESC);
   CREATE INDEX streams_device ON streams (device_id, created_at DESC);
   CREATE INDEX streams_operator ON streams (operator, created_at DESC);`,
  `CREATE TABLE operators (
     name TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('admin','operator','viewer')),
     created_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     operator TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX sessions_expiry ON sessions (expires_at);`,
  `CREATE TABLE recordings (
     stream_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     operator TEXT,
     path TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     duration_ms INTEGER NOT NULL DEFAULT 0,
     size INTEGER NOT NULL DEFAULT 0,
     truncated INTEGER NOT NULL DEFAULT 0,
     input_recorded INTEGER NOT NULL DEFAULT 0,
     cols INTEGER NOT NULL,
     rows INTEGER NOT NULL
   );
   CREATE INDEX recordings_started ON recordings (started_at);
   CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // Operators get a stable id that a new account of the same name never reuses; recordings belong
  // to that id, not to the name.
  `ALTER TABLE operators ADD COLUMN id TEXT;
   UPDATE operators SET id = lower(hex(randomblob(16))) WHERE id IS NULL;
   CREATE UNIQUE INDEX operators_id ON operators (id);
   ALTER TABLE recordings ADD COLUMN operator_id TEXT;
   UPDATE recordings SET operator_id = (SELECT id FROM operators WHERE operators.name = recordings.operator);`,
  // The console's policy sees devices without their keys (RegistryView instead of RegistryRead).
  `UPDATE policies SET rights = 'RegistryView,ServiceConnect' WHERE name = 'console' AND rights = 'RegistryRead,ServiceConnect';`,
  // Where each device is connected and which node took and carries each stream (the same store
  // serves one node here and many in a cluster); keyset paging of the log; live streams found fast.
  `ALTER TABLE devices ADD COLUMN connected_node TEXT;
   CREATE INDEX devices_connected ON devices (connected_node) WHERE connected_node IS NOT NULL;
   ALTER TABLE streams ADD COLUMN node TEXT NOT NULL DEFAULT 'local';
   ALTER TABLE streams ADD COLUMN gateway_node TEXT;
   CREATE INDEX streams_live ON streams (device_id) WHERE state != 'ended';
   DROP INDEX streams_created;
   CREATE INDEX streams_created ON streams (created_at DESC, id DESC);
   ALTER TABLE recordings ADD COLUMN node TEXT NOT NULL DEFAULT 'local';
   CREATE TABLE rate_buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL);`,
  // Resumable terminal sessions of the console: owner, secret, holder, expiry (terminal-sessions.ts).
  `CREATE TABLE terminal_sessions (
     session_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     operator TEXT NOT NULL,
     operator_id TEXT NOT NULL,
     secret TEXT NOT NULL,
     recording_id TEXT,
     stream_id TEXT NOT NULL,
     node TEXT NOT NULL,
     attach_seq INTEGER NOT NULL,
     attached INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     detached_at INTEGER,
     expires_at INTEGER,
     detach_timeout_ms INTEGER NOT NULL,
     output_recorded INTEGER NOT NULL DEFAULT 0,
     input_recorded INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX terminal_sessions_operator ON terminal_sessions (operator_id, created_at DESC);
   CREATE INDEX terminal_sessions_node ON terminal_sessions (node) WHERE attached = 1;
   CREATE INDEX terminal_sessions_expiry ON terminal_sessions (expires_at) WHERE expires_at IS NOT NULL;`,
  // Resumable (v2) streams: their sides' resume keys (hashed), the window, and each interruption.
  `ALTER TABLE streams ADD COLUMN resumable INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE streams ADD COLUMN resume_window_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE streams ADD COLUMN service_resume_hash TEXT;
   ALTER TABLE streams ADD COLUMN device_resume_hash TEXT;
   ALTER TABLE streams ADD COLUMN interrupted_at INTEGER;
   ALTER TABLE streams ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE streams ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX streams_interrupted ON streams (interrupted_at) WHERE interrupted_at IS NOT NULL;
   CREATE TABLE stream_interruptions (stream_id TEXT NOT NULL, interrupted_at INTEGER NOT NULL, resumed_at INTEGER);
   CREATE INDEX stream_interruptions_stream ON stream_interruptions (stream_id, interrupted_at);`,
  // The log's filters in the order its pages are read (newest first, ties by id), as PostgreSQL has
  // them: a filter on a rare result no longer scans the whole log.
  `DROP INDEX streams_device;
   DROP INDEX streams_operator;
   CREATE INDEX streams_device ON streams (device_id, created_at DESC, id DESC);
   CREATE INDEX streams_operator ON streams (operator, created_at DESC, id DESC);
   CREATE INDEX streams_result ON streams (result, created_at DESC, id DESC);`,
  // Device onboarding: devices get tags and the agent they last said they run; one-use enrollment
  // tokens (only their secret's hash); the console's policy may issue them (Enroll).
  `ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
   ALTER TABLE devices ADD COLUMN agent TEXT;
   CREATE TABLE enrollment_tokens (
     id TEXT PRIMARY KEY,
     secret_hash TEXT NOT NULL,
     target TEXT NOT NULL,
     pattern INTEGER NOT NULL,
     tags TEXT NOT NULL,
     maps TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     used_by TEXT
   );
   CREATE INDEX enrollment_tokens_expiry ON enrollment_tokens (expires_at);
   UPDATE policies SET rights = 'RegistryView,ServiceConnect,Enroll' WHERE name = 'console' AND rights = 'RegistryView,ServiceConnect';`,
  // File transfers: what the initiator said a stream carries (direction and name, JSON; shared/transfer.ts).
  `ALTER TABLE streams ADD COLUMN transfer TEXT;`,
  // Login attempts in the store rather than in one process's memory, as a cluster keeps them.
  `CREATE TABLE login_attempts (attempt TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX login_attempts_key ON login_attempts (key, at);
   CREATE INDEX login_attempts_at ON login_attempts (at);
   CREATE INDEX login_attempts_attempt ON login_attempts (attempt);
   CREATE TABLE login_known (name TEXT NOT NULL, address TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (name, address));
   CREATE INDEX login_known_until ON login_known (until);`,
  // The stream names a device's agent says it serves (JSON array; NULL: it never said).
  `ALTER TABLE devices ADD COLUMN services TEXT;`,
  // When the device's latest recorded connection began (ISO), whichever node it reached: another
  // node's write of an older connection that arrives after it is ignored (store.ts, connected).
  `ALTER TABLE devices ADD COLUMN connected_since TEXT;`,
  // The random id the device's agent (SDK instance) said in its latest hello: another one means the
  // device side restarted, and the streams of the one before cannot come back (hub.ts).
  `ALTER TABLE devices ADD COLUMN agent_instance TEXT;`,
];

/** Opens (creating when needed) `hub.db` in `dataDir` and brings its schema up to date. */
export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'hub.db');
  createPrivateFile(path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
