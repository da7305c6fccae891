/**
 * Console sessions: a random 256-bit token in an HttpOnly cookie; the store keeps only its SHA-256,
 * so a copy of the database does not let anyone in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Statements, type Db } from '../store/database.js';

export const SESSION_COOKIE = 'ds_session';

export interface Session {
  tokenHash: string;
  operator: string;
  expiresAt: number;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class SessionStore {
  readonly #sql: Statements;
  readonly #ttlMs: number;

  constructor(db: Db, ttlMs: number) {
    this.#sql = new Statements(db);
    this.#ttlMs = ttlMs;
  }

  /** Starts a session; returns the token for the cookie. */
  create(operator: string): { token: string; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    this.#sql.get('DELETE FROM sessions WHERE expires_at < ?').run(now);
    this.#sql.get('INSERT INTO sessions (token_hash, operator, created_at, expires_at) VALUES (?,?,?,?)').run(hashToken(token), operator, now, expiresAt);
    return { token, expiresAt };
  }

  /** The live session for a token, or undefined. */
  get(token: string | undefined): Session | undefined {
    if (token === undefined || token.length < 20 || token.length > 100) return undefined;
    const row = this.#sql
      .get<[string, number], { token_hash: string; operator: string; expires_at: number }>('SELECT token_hash, operator, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?')
      .get(hashToken(token), Date.now());
    return row === undefined ? undefined : { tokenHash: row.token_hash, operator: row.operator, expiresAt: row.expires_at };
  }

  /** Is the session with this token hash still live? */
  isLive(tokenHash: string): boolean {
    return this.#sql.get<[string, number], { n: number }>('SELECT 1 AS n FROM sessions WHERE token_hash = ? AND expires_at > ?').get(tokenHash, Date.now()) !== undefined;
  }

  delete(tokenHash: string): void {
    this.#sql.get('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  deleteFor(operator: string): void {
    this.#sql.get('DELETE FROM sessions WHERE operator = ?').run(operator);
  }
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
