/** Console operator accounts and their login sessions in PostgreSQL. */
import { randomUUID } from 'node:crypto';
import type { Role } from '../../../shared/console-api.js';
import type { Operator, OperatorWithHash, Session } from '../records.js';
import type { OperatorRepository, SessionRepository } from '../store.js';
import type { Database } from './pool.js';

interface OperatorRow {
  id: string;
  name: string;
  password_hash: string;
  role: Role;
  created_at: number;
}

const operatorOf = (r: OperatorRow): Operator => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at });

export class PgOperators implements OperatorRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async count(): Promise<number> {
    const [r] = await this.#db.rows<{ n: number }>('SELECT COUNT(*)::int AS n FROM operators');
    return r?.n ?? 0;
  }

  async get(name: string): Promise<Operator | undefined> {
    const [r] = await this.#db.rows<OperatorRow>('SELECT * FROM operators WHERE name = $1', [name]);
    return r === undefined ? undefined : operatorOf(r);
  }

  async getById(id: string): Promise<Operator | undefined> {
    const [r] = await this.#db.rows<OperatorRow>('SELECT * FROM operators WHERE id = $1', [id]);
    return r === undefined ? undefined : operatorOf(r);
  }

  async getWithHash(name: string): Promise<OperatorWithHash | undefined> {
    const [r] = await this.#db.rows<OperatorRow>('SELECT * FROM operators WHERE name = $1', [name]);
    return r === undefined ? undefined : { ...operatorOf(r), passwordHash: r.password_hash };
  }

  async list(): Promise<Operator[]> {
    return (await this.#db.rows<OperatorRow>('SELECT * FROM operators ORDER BY name')).map(operatorOf);
  }

  async create(name: string, passwordHash: string, role: Role, at: number): Promise<boolean> {
    // Names are unique regardless of case ("Alice" beside "alice" would be told apart by case
    // alone); the lock makes two nodes adding "Alice" and "alice" at once see each other.
    return this.#db.transaction(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('devicestreams.operators'))");
      const r = await c.query(
        'INSERT INTO operators (id, name, password_hash, role, created_at) SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint WHERE NOT EXISTS (SELECT 1 FROM operators WHERE lower(name) = lower($2::text)) ON CONFLICT (name) DO NOTHING',
        [randomUUID(), name, passwordHash, role, at],
      );
      return (r.rowCount ?? 0) > 0;
    });
  }

  async setPasswordHash(name: string, passwordHash: string): Promise<boolean> {
    return ((await this.#db.query('UPDATE operators SET password_hash = $1 WHERE name = $2', [passwordHash, name])).rowCount ?? 0) > 0;
  }

  async setRole(name: string, role: Role): Promise<boolean> {
    return ((await this.#db.query('UPDATE operators SET role = $1 WHERE name = $2', [role, name])).rowCount ?? 0) > 0;
  }

  async delete(name: string): Promise<boolean> {
    // Sessions go with the account (ON DELETE CASCADE).
    return ((await this.#db.query('DELETE FROM operators WHERE name = $1', [name])).rowCount ?? 0) > 0;
  }
}

export class PgSessions implements SessionRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(tokenHash: string, operator: string, at: number, expiresAt: number): Promise<void> {
    await this.#db.query('DELETE FROM sessions WHERE expires_at < $1', [at]);
    await this.#db.query('INSERT INTO sessions (token_hash, operator, created_at, expires_at) VALUES ($1,$2,$3,$4)', [tokenHash, operator, at, expiresAt]);
  }

  async get(tokenHash: string, now: number): Promise<Session | undefined> {
    const [r] = await this.#db.rows<{ token_hash: string; operator: string; expires_at: number }>(
      'SELECT token_hash, operator, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2',
      [tokenHash, now],
    );
    return r === undefined ? undefined : { tokenHash: r.token_hash, operator: r.operator, expiresAt: r.expires_at };
  }

  async delete(tokenHash: string): Promise<void> {
    await this.#db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }

  async deleteFor(operator: string): Promise<void> {
    await this.#db.query('DELETE FROM sessions WHERE operator = $1', [operator]);
  }
}
