/**
 * Console sessions: a random 256-bit token in an HttpOnly cookie; the store keeps only its SHA-256,
 * so a copy of the database does not let anyone in.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Session, SessionRepository } from '../store/store.js';

/**
 * The session cookie's name. Over TLS it carries the `__Host-` prefix: browsers then take it only
 * from this exact origin with Secure and no Domain, so a page on a sibling host (a device's web app
 * under the apps domain, another service of the same site) cannot plant a cookie of that name
 * that the console would read instead of its own.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-ds_session' : 'ds_session';
}

export type { Session };

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Console login sessions over the store's session rows. */
export class SessionStore {
  readonly #repo: SessionRepository;
  readonly #ttlMs: number;

  constructor(repo: SessionRepository, ttlMs: number) {
    this.#repo = repo;
    this.#ttlMs = ttlMs;
  }

  /** Starts a session; returns the token for the cookie. */
  async create(operator: string): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const expiresAt = now + this.#ttlMs;
    await this.#repo.create(hashToken(token), operator, now, expiresAt);
    return { token, expiresAt };
  }

  /** The live session for a token, or undefined. */
  async get(token: string | undefined): Promise<Session | undefined> {
    if (token === undefined || token.length < 20 || token.length > 100) return undefined;
    return this.#repo.get(hashToken(token), Date.now());
  }

  /** Is the session with this token hash still live? */
  async isLive(tokenHash: string): Promise<boolean> {
    return (await this.#repo.get(tokenHash, Date.now())) !== undefined;
  }

  delete(tokenHash: string): Promise<void> {
    return this.#repo.delete(tokenHash);
  }

  deleteFor(operator: string): Promise<void> {
    return this.#repo.deleteFor(operator);
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
