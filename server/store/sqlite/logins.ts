/** Login attempts in SQLite: one process, so a transaction is all the holding off there is. */
import type { KnownLogin, LoginAttemptBegin, LoginAttemptRepository } from '../store.js';
import { Statements, type Db } from './database.js';

export class SqliteLogins implements LoginAttemptRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  async begin(o: LoginAttemptBegin): Promise<number> {
    return this.#db.transaction(() => {
      this.#sql.get('DELETE FROM login_attempts WHERE at < ?').run(o.since);
      this.#sql.get('DELETE FROM login_known WHERE until <= ?').run(o.at);
      const times = this.#sql.get<[string], { at: number }>('SELECT at FROM login_attempts WHERE key = ? ORDER BY at');
      const recent = o.keys.map((k) => times.all(k).map((r) => r.at));
      const known = this.#sql.get<[string, string], { until: number }>('SELECT until FROM login_known WHERE name = ? AND address = ?').get(o.known.name, o.known.address) !== undefined;
      const wait = o.decide(recent, known);
      if (wait === 0) for (const k of o.keys) this.#sql.get('INSERT INTO login_attempts (attempt, key, at) VALUES (?,?,?)').run(o.attempt, k, o.at);
      return wait;
    })();
  }

  async succeeded(attempt: string, known: KnownLogin, until: number): Promise<void> {
    this.#db.transaction(() => {
      this.#sql.get('DELETE FROM login_attempts WHERE attempt = ?').run(attempt);
      this.#sql.get('INSERT INTO login_known (name, address, until) VALUES (?,?,?) ON CONFLICT (name, address) DO UPDATE SET until = excluded.until').run(known.name, known.address, until);
    })();
  }

  async withdraw(attempt: string): Promise<void> {
    this.#sql.get('DELETE FROM login_attempts WHERE attempt = ?').run(attempt);
  }

  async forget(key: string, name: string): Promise<void> {
    this.#db.transaction(() => {
      this.#sql.get('DELETE FROM login_attempts WHERE key = ?').run(key);
      this.#sql.get('DELETE FROM login_known WHERE name = ?').run(name);
    })();
  }
}
