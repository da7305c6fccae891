/** One-use enrollment tokens in SQLite (only each secret's hash is kept). */
import { parseStrings, parseTags } from '../json-columns.js';
import type { EnrollmentTokenRecord, NewEnrollmentToken } from '../records.js';
import type { EnrollmentRepository } from '../store.js';
import { Statements, type Db } from './database.js';

interface Row {
  id: string;
  secret_hash: string;
  target: string;
  pattern: number;
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
  pattern: r.pattern === 1,
  tags: parseTags(r.tags),
  maps: parseStrings(r.maps),
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  usedBy: r.used_by,
});

export class SqliteEnrollment implements EnrollmentRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  async create(t: NewEnrollmentToken): Promise<void> {
    this.#sql
      .get('INSERT INTO enrollment_tokens (id, secret_hash, target, pattern, tags, maps, created_by, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(t.id, t.secretHash, t.target, t.pattern ? 1 : 0, JSON.stringify(t.tags), JSON.stringify(t.maps), t.createdBy, t.createdAt, t.expiresAt);
  }

  async get(id: string): Promise<EnrollmentTokenRecord | undefined> {
    const row = this.#sql.get<[string], Row>('SELECT * FROM enrollment_tokens WHERE id = ?').get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  async consume(id: string, deviceId: string, at: number): Promise<EnrollmentTokenRecord | undefined> {
    // One statement: SQLite's write lock makes the check and the mark one step for every process.
    const row = this.#sql
      .get<[number, string, string, number], Row>('UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL AND expires_at > ? RETURNING *')
      .get(at, deviceId, id, at);
    return row === undefined ? undefined : fromRow(row);
  }

  async release(id: string, deviceId: string): Promise<void> {
    this.#sql.get('UPDATE enrollment_tokens SET used_at = NULL, used_by = NULL WHERE id = ? AND used_by = ?').run(id, deviceId);
  }

  async countLive(at: number): Promise<number> {
    return this.#sql.get<[number], { n: number }>('SELECT COUNT(*) AS n FROM enrollment_tokens WHERE used_at IS NULL AND expires_at > ?').get(at)?.n ?? 0;
  }

  async deleteExpired(before: number): Promise<number> {
    return this.#sql.get('DELETE FROM enrollment_tokens WHERE expires_at < ?').run(before).changes;
  }
}
