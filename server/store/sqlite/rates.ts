/** Token buckets in SQLite (one process uses them; the same interface serves a cluster's store). */
import { refill } from '../rate.js';
import type { RateRepository } from '../store.js';
import { Statements, type Db } from './database.js';

export class SqliteRates implements RateRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  async take(name: string, perSecond: number): Promise<number> {
    return this.#db.transaction(() => {
      const now = Date.now();
      const row = this.#sql.get<[string], { tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM rate_buckets WHERE name = ?').get(name);
      const next = refill(row?.tokens ?? perSecond, row?.updated_at ?? now, now, perSecond);
      this.#sql.get('INSERT INTO rate_buckets (name, tokens, updated_at) VALUES (?,?,?) ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at').run(name, next.tokens, now);
      return next.wait;
    })();
  }
}
