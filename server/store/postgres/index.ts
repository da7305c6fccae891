/** The cluster store: PostgreSQL, shared by every node. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store.js';
import { PgOperators, PgSessions } from './accounts.js';
import { PgDevices, PgPolicies } from './devices.js';
import { PgEnrollment } from './enrollment.js';
import { PgLogins } from './logins.js';
import { migrate } from './migrations.js';
import { Database, redactUrl } from './pool.js';
import { PgRates } from './rates.js';
import { PgRecordingData, PgRecordings } from './recordings.js';
import { PgStreams } from './streams.js';
import { PgTerminalSessions } from './terminal-sessions.js';

/** Connects, brings the schema up to date (under a lock, so nodes starting together do not race) and opens the store. */
export async function openPostgresStore(url: string, log: (line: string) => void): Promise<Store> {
  const db = new Database(url, log);
  try {
    await migrate(db, log);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw db.convert(err);
  }
  db.serving();
  return {
    engine: 'postgres',
    location: redactUrl(url),
    devices: new PgDevices(db),
    policies: new PgPolicies(db),
    streams: new PgStreams(db),
    operators: new PgOperators(db),
    sessions: new PgSessions(db),
    recordings: new PgRecordings(db),
    recordingData: new PgRecordingData(db),
    secrets: {
      async getOrCreate(name, bytes) {
        // The first node to ask makes it; every other node reads that one.
        await db.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(bytes)]);
        const [r] = await db.rows<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name]);
        if (r === undefined) throw new Error(`secret ${name} vanished from the store`);
        return r.value;
      },
      async removeNumberedBefore(prefix, before) {
        // The CASE keeps the cast from names whose rest is not a number (AND does not order them).
        const r = await db.query(
          `DELETE FROM secrets WHERE left(name, length($1)) = $1
             AND CASE WHEN substr(name, length($1) + 1) ~ '^[0-9]{1,15}$' THEN substr(name, length($1) + 1)::bigint < $2 ELSE false END`,
          [prefix, before],
        );
        return r.rowCount ?? 0;
      },
    },
    rates: new PgRates(db),
    terminalSessions: new PgTerminalSessions(db),
    enrollment: new PgEnrollment(db),
    logins: new PgLogins(db),
    ping: async () => {
      await db.query('SELECT 1');
    },
    exclusively: (name, task) =>
      db.withClient(async (client) => {
        // A session-level lock on this connection, keyed by a 64-bit hash of the name.
        const got = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended('devicestreams:' || $1, 0)) AS ok", [name]);
        if (got.rows[0]?.ok !== true) return false;
        try {
          await task();
          return true;
        } finally {
          await client.query("SELECT pg_advisory_unlock(hashtextextended('devicestreams:' || $1, 0))", [name]).catch(() => undefined);
        }
      }),
    close: () => db.close(),
  };
}
