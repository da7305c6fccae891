/**
 * The cluster store's schema, as numbered migrations applied in order. Nodes starting together
 * take a PostgreSQL advisory lock first, so exactly one applies each step (the others wait, then
 * find it done); each step runs in its own transaction and is recorded in `schema_migrations`.
 * The tables mirror the embedded store's (server/store/sqlite/database.ts) in their final form.
 */
import type { Database } from './pool.js';

/** Any constant: the advisory lock every node takes while it migrates. */
const MIGRATION_LOCK = 727_100_001;

export const MIGRATIONS: readonly string[] = [
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
     connection_state_updated_time TEXT,
     connected_node TEXT
   );
   CREATE INDEX devices_connected ON devices (connected_node) WHERE connected_node IS NOT NULL;
   CREATE INDEX devices_status ON devices (status, device_id);
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
     created_at BIGINT NOT NULL,
     accepted_at BIGINT,
     connected_at BIGINT,
     ended_at BIGINT,
     closed_by TEXT,
     close_code INTEGER,
     bytes_to_device BIGINT NOT NULL DEFAULT 0,
     bytes_from_device BIGINT NOT NULL DEFAULT 0,
     node TEXT NOT NULL,
     gateway_node TEXT
   );
   CREATE INDEX streams_created ON streams (created_at DESC, id DESC);
   CREATE INDEX streams_device ON streams (device_id, created_at DESC, id DESC);
   CREATE INDEX streams_operator ON streams (operator, created_at DESC, id DESC);
   CREATE INDEX streams_result ON streams (result, created_at DESC, id DESC);
   CREATE INDEX streams_live ON streams (device_id) WHERE state <> 'ended';
   CREATE TABLE operators (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('admin','operator','viewer')),
     created_at BIGINT NOT NULL
   );
   CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     operator TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE ON UPDATE CASCADE,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX sessions_expiry ON sessions (expires_at);
   CREATE INDEX sessions_operator ON sessions (operator);
   CREATE TABLE recordings (
     stream_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     operator TEXT,
     operator_id TEXT,
     node TEXT NOT NULL,
     started_at BIGINT NOT NULL,
     ended_at BIGINT,
     duration_ms BIGINT NOT NULL DEFAULT 0,
     size BIGINT NOT NULL DEFAULT 0,
     truncated BOOLEAN NOT NULL DEFAULT false,
     input_recorded BOOLEAN NOT NULL DEFAULT false,
     cols INTEGER NOT NULL,
     rows INTEGER NOT NULL
   );
   CREATE INDEX recordings_started ON recordings (started_at);
   CREATE INDEX recordings_unfinished ON recordings (node) WHERE ended_at IS NULL;
   CREATE TABLE recording_chunks (
     stream_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (stream_id, seq)
   );
   CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);`,
  // Search by any part of a device id without reading the whole registry (pg_trgm ships with
  // PostgreSQL and is a trusted extension: the database's owner may create it).
  `CREATE EXTENSION IF NOT EXISTS pg_trgm;
   CREATE INDEX devices_search ON devices USING gin (lower(device_id) gin_trgm_ops);`,
  `CREATE TABLE rate_buckets (name TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, updated_at BIGINT NOT NULL);`,
  // Registry pages in byte order of the id, as the embedded store gives them, whatever the
  // database's collation (clients compare ids that way to place a changed device on a page).
  `CREATE INDEX devices_id_bytes ON devices ((device_id COLLATE "C"));`,
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
     attached BOOLEAN NOT NULL,
     created_at BIGINT NOT NULL,
     detached_at BIGINT,
     expires_at BIGINT,
     detach_timeout_ms BIGINT NOT NULL,
     output_recorded BIGINT NOT NULL DEFAULT 0,
     input_recorded BIGINT NOT NULL DEFAULT 0
   );
   CREATE INDEX terminal_sessions_operator ON terminal_sessions (operator_id, created_at DESC);
   CREATE INDEX terminal_sessions_node ON terminal_sessions (node) WHERE attached;
   CREATE INDEX terminal_sessions_expiry ON terminal_sessions (expires_at) WHERE expires_at IS NOT NULL;`,
  // Resumable (v2) streams: their sides' resume keys (hashed), the window, and each interruption.
  `ALTER TABLE streams ADD COLUMN resumable BOOLEAN NOT NULL DEFAULT false;
   ALTER TABLE streams ADD COLUMN resume_window_ms BIGINT NOT NULL DEFAULT 0;
   ALTER TABLE streams ADD COLUMN service_resume_hash TEXT;
   ALTER TABLE streams ADD COLUMN device_resume_hash TEXT;
   ALTER TABLE streams ADD COLUMN interrupted_at BIGINT;
   ALTER TABLE streams ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE streams ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX streams_interrupted ON streams (interrupted_at) WHERE interrupted_at IS NOT NULL;
   CREATE TABLE stream_interruptions (stream_id TEXT NOT NULL, interrupted_at BIGINT NOT NULL, resumed_at BIGINT);
   CREATE INDEX stream_interruptions_stream ON stream_interruptions (stream_id, interrupted_at);`,
  // Device onboarding: devices get tags and the agent they last said they run; one-use enrollment
  // tokens (only their secret's hash); the console's policy may issue them (Enroll).
  `ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
   ALTER TABLE devices ADD COLUMN agent TEXT;
   CREATE TABLE enrollment_tokens (
     id TEXT PRIMARY KEY,
     secret_hash TEXT NOT NULL,
     target TEXT NOT NULL,
     pattern BOOLEAN NOT NULL,
     tags TEXT NOT NULL,
     maps TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     used_at BIGINT,
     used_by TEXT
   );
   CREATE INDEX enrollment_tokens_expiry ON enrollment_tokens (expires_at);
   UPDATE policies SET rights = 'RegistryView,ServiceConnect,Enroll' WHERE name = 'console' AND rights = 'RegistryView,ServiceConnect';`,
  // File transfers: what the initiator said a stream carries (direction and name, JSON; shared/transfer.ts).
  `ALTER TABLE streams ADD COLUMN transfer TEXT;`,
  // Login attempts shared by the nodes: a guesser spreading tries over the balancer's nodes gets
  // no more than one node would give it (server/bff/login-limiter.ts).
  `CREATE TABLE login_attempts (attempt TEXT NOT NULL, key TEXT NOT NULL, at BIGINT NOT NULL);
   CREATE INDEX login_attempts_key ON login_attempts (key, at);
   CREATE INDEX login_attempts_at ON login_attempts (at);
   CREATE INDEX login_attempts_attempt ON login_attempts (attempt);
   CREATE TABLE login_known (name TEXT NOT NULL, address TEXT NOT NULL, until BIGINT NOT NULL, PRIMARY KEY (name, address));
   CREATE INDEX login_known_until ON login_known (until);`,
  // The stream names a device's agent says it serves (JSON array; NULL: it never said).
  `ALTER TABLE devices ADD COLUMN services TEXT;`,
  // Search walks the ids alone. A search for a frequent term walks ids in order until it has a
  // page, and on \`devices\` every step fetched the row (presence updates keep its pages off the
  // visibility map): 90,000 rows, 105 ms for a term whose hits sort late. This table only ever
  // gains and loses rows, so autovacuum keeps it all-visible and the walk reads the index alone
  // (31 ms). A trigger keeps it exactly the set of device ids, in the same transaction.
  `CREATE TABLE device_ids (device_id TEXT COLLATE "C" PRIMARY KEY);
   INSERT INTO device_ids SELECT device_id FROM devices;
   CREATE INDEX device_ids_search ON device_ids USING gin (lower(device_id) gin_trgm_ops);
   DROP INDEX devices_search;
   CREATE FUNCTION device_ids_follow() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'INSERT' THEN
       INSERT INTO device_ids (device_id) VALUES (NEW.device_id);
     ELSE
       DELETE FROM device_ids WHERE device_id = OLD.device_id;
     END IF;
     RETURN NULL;
   END $$;
   CREATE TRIGGER device_ids_follow AFTER INSERT OR DELETE ON devices FOR EACH ROW EXECUTE FUNCTION device_ids_follow();`,
  // When the device's latest recorded connection began (ISO), whichever node it reached: another
  // node's write of an older connection that arrives after it is ignored (store.ts, connected).
  `ALTER TABLE devices ADD COLUMN connected_since TEXT;`,
  // The random id the device's agent (SDK instance) said in its latest hello: another one means the
  // device side restarted, and the streams of the one before cannot come back (hub.ts).
  `ALTER TABLE devices ADD COLUMN agent_instance TEXT;`,
];

/** Brings the schema up to date under the migration lock; returns the versions applied. */
export async function migrate(db: Database, log: (line: string) => void): Promise<number[]> {
  return db.withClient(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const applied: number[] = [];
      for (let v = 1; v <= MIGRATIONS.length; v++) {
        if (done.has(v)) continue;
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v - 1] as string);
          await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`store migration ${v} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        applied.push(v);
        log(`store: applied schema migration ${v}`);
      }
      const newest = Math.max(0, ...done, ...applied);
      if (newest > MIGRATIONS.length) {
        throw new Error(`the store's schema is at version ${newest}, newer than this release knows (${MIGRATIONS.length}); upgrade this node`);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  });
}
