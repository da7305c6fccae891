/** Operator accounts of the console: scrypt-hashed passwords and a role. */
import { randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../../shared/console-api.js';
import { Statements, type Db } from '../store/database.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export interface Operator {
  /** Stable for the account's life; a later account with the same name gets another. */
  id: string;
  name: string;
  role: Role;
  createdAt: number;
}

/** `scrypt$N$r$p$salt$hash`, all base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEYLEN, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A password hash that matches nothing, so unknown names cost as much time as known ones. */
let decoy: string | undefined;
async function decoyHash(): Promise<string> {
  decoy ??= await hashPassword(randomBytes(16).toString('base64'));
  return decoy;
}

interface Row {
  id: string;
  name: string;
  password_hash: string;
  role: Role;
  created_at: number;
}

function fromRow(r: Row): Operator {
  return { id: r.id, name: r.name, role: r.role, createdAt: r.created_at };
}

export class OperatorRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  count(): number {
    return this.#sql.get<[], { n: number }>('SELECT COUNT(*) AS n FROM operators').get()?.n ?? 0;
  }

  get(name: string): Operator | undefined {
    const row = this.#sql.get<[string], Row>('SELECT * FROM operators WHERE name = ?').get(name);
    return row === undefined ? undefined : fromRow(row);
  }

  getById(id: string): Operator | undefined {
    const row = this.#sql.get<[string], Row>('SELECT * FROM operators WHERE id = ?').get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  list(): Operator[] {
    return this.#sql.get<[], Row>('SELECT * FROM operators ORDER BY name').all().map(fromRow);
  }

  /** Creates an account; false when the name is taken. */
  async create(name: string, password: string, role: Role): Promise<boolean> {
    const hash = await hashPassword(password);
    return this.#sql.get('INSERT OR IGNORE INTO operators (id, name, password_hash, role, created_at) VALUES (?,?,?,?,?)').run(randomUUID(), name, hash, role, Date.now()).changes > 0;
  }

  async setPassword(name: string, password: string): Promise<boolean> {
    const hash = await hashPassword(password);
    return this.#sql.get('UPDATE operators SET password_hash = ? WHERE name = ?').run(hash, name).changes > 0;
  }

  setRole(name: string, role: Role): boolean {
    return this.#sql.get('UPDATE operators SET role = ? WHERE name = ?').run(role, name).changes > 0;
  }

  delete(name: string): boolean {
    return this.#sql.get('DELETE FROM operators WHERE name = ?').run(name).changes > 0;
  }

  /** The operator if the password matches; the same work is done for unknown names. */
  async authenticate(name: string, password: string): Promise<Operator | undefined> {
    const row = this.#sql.get<[string], Row>('SELECT * FROM operators WHERE name = ?').get(name);
    const ok = await verifyPassword(password, row?.password_hash ?? (await decoyHash()));
    return ok && row !== undefined ? fromRow(row) : undefined;
  }
}
