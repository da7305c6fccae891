/** One-use enrollment tokens in PostgreSQL, shared by every node (only each secret's hash is kept). */
import { parseStrings, parseTags } from '../json-columns.js';
import type { EnrollmentTokenRecord, NewEnrollmentToken } from '../records.js';
import type { EnrollmentRepository } from '../store.js';
import type { Database } from './pool.js';

interface Row {
  id: string;
  secret_hash: string;
  target: string;
  pattern: boolean;
  tags: string;
  maps: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

const fromRow = (r: Row): EnrollmentTokenRecord => ({
  id: r.id,
  secretHash: r.secret_hash,
  target: r.target,
  pattern: r.pattern,
  tags: parseTags(r.tags),
  maps: parseStrings(r.maps),
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  usedBy: r.used_by,
});

export class PgEnrollment implements EnrollmentRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(t: NewEnrollmentToken): Promise<void> {
    await this.#db.query(
      'INSERT INTO enrollment_tokens (id, secret_hash, target, pattern, tags, maps, created_by, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
      [t.id, t.secretHash, t.target, t.pattern, JSON.stringify(t.tags), JSON.stringify(t.maps), t.createdBy, t.createdAt, t.expiresAt],
    );
  }

  async get(id: string): Promise<EnrollmentTokenRecord | undefined> {
    const [row] = await this.#db.rows<Row>('SELECT * FROM enrollment_tokens WHERE id = $1', [id]);
    return row === undefined ? undefined : fromRow(row);
  }

  async consume(id: string, deviceId: string, at: number): Promise<EnrollmentTokenRecord | undefined> {
    // One conditional UPDATE: the row lock serialises uses from any node; the loser re-checks
    // `used_at IS NULL` after the winner commits and updates nothing.
    const [row] = await this.#db.rows<Row>(
      'UPDATE enrollment_tokens SET used_at = $1, used_by = $2 WHERE id = $3 AND used_at IS NULL AND expires_at > $1 RETURNING *',
      [at, deviceId, id],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async release(id: string, deviceId: string): Promise<void> {
    await this.#db.query('UPDATE enrollment_tokens SET used_at = NULL, used_by = NULL WHERE id = $1 AND used_by = $2', [id, deviceId]);
  }

  async countLive(at: number): Promise<number> {
    const [r] = await this.#db.rows<{ n: number }>('SELECT COUNT(*)::int AS n FROM enrollment_tokens WHERE used_at IS NULL AND expires_at > $1', [at]);
    return r?.n ?? 0;
  }

  async deleteExpired(before: number): Promise<number> {
    return (await this.#db.query('DELETE FROM enrollment_tokens WHERE expires_at < $1', [before])).rowCount ?? 0;
  }
}
