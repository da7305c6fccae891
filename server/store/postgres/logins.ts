/**
 * Login attempts in PostgreSQL, shared by the nodes. An attempt holds a transaction-level advisory
 * lock per key (address, name) while it reads and records, so parallel guesses sent to different
 * nodes see each other as they do on one node; the keys are locked in one order, so two attempts
 * never wait for each other's locks in a circle.
 */
import type { KnownLogin, LoginAttemptBegin, LoginAttemptRepository } from '../store.js';
import type { Database } from './pool.js';

/** Any constant: the high half of the advisory locks' keys, apart from the store's other locks. */
const LOGIN_LOCK_SEED = 727_100_003;

export class PgLogins implements LoginAttemptRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async begin(o: LoginAttemptBegin): Promise<number> {
    return this.#db.transaction(async (c) => {
      for (const k of [...o.keys].sort()) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2))', [k, LOGIN_LOCK_SEED]);
      await c.query('DELETE FROM login_attempts WHERE key = ANY($1) AND at < $2', [o.keys, o.since]);
      const rows = (await c.query<{ key: string; at: string }>('SELECT key, at FROM login_attempts WHERE key = ANY($1) ORDER BY at', [o.keys])).rows;
      const recent = o.keys.map((k) => rows.filter((r) => r.key === k).map((r) => Number(r.at)));
      const known = (await c.query('SELECT 1 FROM login_known WHERE name = $1 AND address = $2 AND until > $3', [o.known.name, o.known.address, o.at])).rowCount === 1;
      const wait = o.decide(recent, known);
      if (wait === 0) {
        await c.query('INSERT INTO login_attempts (attempt, key, at) SELECT $1, k, $3 FROM unnest($2::text[]) AS k', [o.attempt, o.keys, o.at]);
      }
      return wait;
    }).finally(() => {
      // Keys nobody tries again and pairs that expired: swept outside the locks, now and then.
      if (Math.random() < 0.05) void this.#sweep(o.since, o.at);
    });
  }

  async #sweep(since: number, now: number): Promise<void> {
    await this.#db.query('DELETE FROM login_attempts WHERE at < $1', [since]).catch(() => undefined);
    await this.#db.query('DELETE FROM login_known WHERE until <= $1', [now]).catch(() => undefined);
  }

  async succeeded(attempt: string, known: KnownLogin, until: number): Promise<void> {
    await this.#db.transaction(async (c) => {
      await c.query('DELETE FROM login_attempts WHERE attempt = $1', [attempt]);
      await c.query(
        'INSERT INTO login_known (name, address, until) VALUES ($1, $2, $3) ON CONFLICT (name, address) DO UPDATE SET until = EXCLUDED.until',
        [known.name, known.address, until],
      );
    });
  }

  async withdraw(attempt: string): Promise<void> {
    await this.#db.query('DELETE FROM login_attempts WHERE attempt = $1', [attempt]);
  }

  async forget(key: string, name: string): Promise<void> {
    await this.#db.transaction(async (c) => {
      await c.query('DELETE FROM login_attempts WHERE key = $1', [key]);
      await c.query('DELETE FROM login_known WHERE name = $1', [name]);
    });
  }
}
