/** Operator accounts of the console: scrypt-hashed passwords and a role. */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../../shared/console-api.js';
import type { Operator, OperatorRepository } from '../store/store.js';
import { PasswordGate } from './password-gate.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export type { Operator };

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
let decoy: Promise<string> | undefined;
function decoyHash(): Promise<string> {
  // The promise is kept, so logins that come at once share one hash rather than each making one.
  decoy ??= hashPassword(randomBytes(16).toString('base64'));
  return decoy;
}

/**
 * Operator accounts: the store's rows plus what only the console does with them — hashing
 * passwords and checking a login.
 */
export class OperatorAccounts {
  readonly #repo: OperatorRepository;
  readonly #gate: PasswordGate;

  constructor(repo: OperatorRepository, gate = new PasswordGate()) {
    this.#repo = repo;
    this.#gate = gate;
  }

  count(): Promise<number> {
    return this.#repo.count();
  }

  get(name: string): Promise<Operator | undefined> {
    return this.#repo.get(name);
  }

  getById(id: string): Promise<Operator | undefined> {
    return this.#repo.getById(id);
  }

  list(): Promise<Operator[]> {
    return this.#repo.list();
  }

  /** Creates an account; false when the name is taken. */
  async create(name: string, password: string, role: Role): Promise<boolean> {
    return this.#repo.create(name, await hashPassword(password), role, Date.now());
  }

  async setPassword(name: string, password: string): Promise<boolean> {
    return this.#repo.setPasswordHash(name, await hashPassword(password));
  }

  setRole(name: string, role: Role): Promise<boolean> {
    return this.#repo.setRole(name, role);
  }

  delete(name: string): Promise<boolean> {
    return this.#repo.delete(name);
  }

  /**
   * The operator if the password matches; the same work is done for unknown names. `known`: the
   * name logged in from this address before, so its check goes ahead of others when the node is
   * busy (password-gate.ts; throws 503 `login_busy` when too many wait).
   */
  async authenticate(name: string, password: string, known = false): Promise<Operator | undefined> {
    const row = await this.#repo.getWithHash(name);
    // The decoy is made inside the gate too: the first flood of unknown names makes it.
    const ok = await this.#gate.run(known, async () => verifyPassword(password, row?.passwordHash ?? (await decoyHash())));
    if (!ok || row === undefined) return undefined;
    const { passwordHash: _hash, ...operator } = row;
    return operator;
  }
}
