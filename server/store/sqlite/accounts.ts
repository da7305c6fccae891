/** Console operator accounts and their login sessions in SQLite. */
import { randomUUID } from 'node:crypto';
import type { Role } from '../../../shared/console-api.js';
import type { Operator, OperatorWithHash, Session } from '../records.js';
import type { OperatorRepository, SessionRepository } from '../store.js';
import { Statements, type Db } from './database.js';

interface OperatorRow {
  id: string;
  name: string;
  password_hash: string;
  role: Role;
  created_at: number;
}

const operatorOf = (r: OperatorRow): Operator => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at });

export class SqliteOperators implements OperatorRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  #row(name: string): OperatorRow | undefined {
    return this.#sql.get<[string], OperatorRow>('SELECT * FROM operators WHERE name = ?').get(name);
  }

  async count(): Promise<number> {
    return this.#sql.get<[], { n: number }>('SELECT COUNT(*) AS n FROM operators').get()?.n ?? 0;
  }

  async get(name: string): Promise<Operator | undefined> {
    const r = this.#row(name);
    return r === undefined ? undefined : operatorOf(r);
  }

  async getById(id: string): Promise<Operator | undefined> {
    const r = this.#sql.get<[string], OperatorRow>('SELECT * FROM operators WHERE id = ?').get(id);
    return r === undefined ? undefined : operatorOf(r);
  }

  async getWithHash(name: string): Promise<OperatorWithHash | undefined> {
    const r = this.#row(name);
    return r === undefined ? undefined : { ...operatorOf(r), passwordHash: r.password_hash };
  }

  async list(): Promise<Operator[]> {
    return this.#sql.get<[], OperatorRow>('SELECT * FROM operators ORDER BY name').all().map(operatorOf);
  }

  async create(name: string, passwordHash: string, role: Role, at: number): Promise<boolean> {
    // Names are unique regardless of case ("Alice" beside "alice" would be told apart by case alone).
    return this.#sql
      .get('INSERT OR IGNORE INTO operators (id, name, password_hash, role, created_at) SELECT ?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM operators WHERE lower(name) = lower(?))')
      .run(randomUUID(), name, passwordHash, role, at, name).changes > 0;
  }

  async setPasswordHash(name: string, passwordHash: string): Promise<boolean> {
    return this.#sql.get('UPDATE operators SET password_hash = ? WHERE name = ?').run(passwordHash, name).changes > 0;
  }

  async setRole(name: string, role: Role): Promise<boolean> {
    return this.#sql.get('UPDATE operators SET role = ? WHERE name = ?').run(role, name).changes > 0;
  }

  async delete(name: string): Promise<boolean> {
    // Sessions go with the account (ON DELETE CASCADE).
    return this.#sql.get('DELETE FROM operators WHERE name = ?').run(name).changes > 0;
  }
}

export class SqliteSessions implements SessionRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  async create(tokenHash: string, operator: string, at: number, expiresAt: number): Promise<void> {
    this.#sql.get('DELETE FROM sessions WHERE expires_at < ?').run(at);
    this.#sql.get('INSERT INTO sessions (token_hash, operator, created_at, expires_at) VALUES (?,?,?,?)').run(tokenHash, operator, at, expiresAt);
  }

  async get(tokenHash: string, now: number): Promise<Session | undefined> {
    const row = this.#sql
      .get<[string, number], { token_hash: string; operator: string; expires_at: number }>(
        'SELECT token_hash, operator, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?',
      )
      .get(tokenHash, now);
    return row === undefined ? undefined : { tokenHash: row.token_hash, operator: row.operator, expiresAt: row.expires_at };
  }

  async delete(tokenHash: string): Promise<void> {
    this.#sql.get('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  async deleteFor(operator: string): Promise<void> {
    this.#sql.get('DELETE FROM sessions WHERE operator = ?').run(operator);
  }
}
