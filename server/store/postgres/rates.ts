/** Token buckets in PostgreSQL, shared by the nodes of a cluster and timed by the database's clock. */
import { refill } from '../rate.js';
import type { RateRepository } from '../store.js';
import type { Database } from './pool.js';

export class PgRates implements RateRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  take(name: string, perSecond: number): Promise<number> {
    return this.#db.transaction(async (client) => {
      const nowSql = '(extract(epoch from clock_timestamp()) * 1000)::bigint';
      await client.query(`INSERT INTO rate_buckets (name, tokens, updated_at) VALUES ($1, $2, ${nowSql}) ON CONFLICT (name) DO NOTHING`, [name, perSecond]);
      // The row lock serialises the nodes taking from this bucket.
      const { rows } = await client.query<{ tokens: number; updated_at: number; now: number }>(
        `SELECT tokens, updated_at, ${nowSql} AS now FROM rate_buckets WHERE name = $1 FOR UPDATE`,
        [name],
      );
      const row = rows[0];
      if (row === undefined) throw new Error(`rate bucket ${name} vanished`);
      const next = refill(row.tokens, row.updated_at, row.now, perSecond);
      await client.query('UPDATE rate_buckets SET tokens = $1, updated_at = $2 WHERE name = $3', [next.tokens, row.now, name]);
      return next.wait;
    });
  }
}
