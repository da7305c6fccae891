/**
 * Token buckets in PostgreSQL, shared by the nodes of a cluster and timed by the database's clock.
 * A take is one statement (refill, take, write back) in its own implicit transaction: the bucket's
 * row is locked only while that statement runs, not across round trips, so initiations from every
 * node do not queue behind each other's network latency.
 */
import type { RateRepository } from '../store.js';
import type { Database } from './pool.js';

const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::double precision';

/** Refills by the time since the last take (at most `perSecond` tokens), takes one when it can. */
const TAKE = `
  WITH cur AS (
    SELECT tokens, updated_at, ${NOW_MS} AS now FROM rate_buckets WHERE name = $1 FOR UPDATE
  ), calc AS (
    SELECT LEAST($2::double precision, tokens + GREATEST(0, now - updated_at) / 1000.0 * $2::double precision) AS full, now FROM cur
  )
  UPDATE rate_buckets SET tokens = CASE WHEN calc.full >= 1 THEN calc.full - 1 ELSE calc.full END, updated_at = calc.now::bigint
  FROM calc WHERE name = $1
  RETURNING calc.full AS full`;

export class PgRates implements RateRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async take(name: string, perSecond: number): Promise<number> {
    let rows = await this.#db.rows<{ full: number }>(TAKE, [name, perSecond]);
    if (rows.length === 0) {
      // The bucket's first use anywhere: create it full, then take as usual.
      await this.#db.rows(`INSERT INTO rate_buckets (name, tokens, updated_at) VALUES ($1, $2, ${NOW_MS}) ON CONFLICT (name) DO NOTHING`, [name, perSecond]);
      rows = await this.#db.rows<{ full: number }>(TAKE, [name, perSecond]);
    }
    const full = Number(rows[0]?.full ?? 0);
    return full >= 1 ? 0 : (1 - full) / perSecond;
  }
}
