/**
 * Login rate limiting. Every attempt is counted when it starts, before the (slow) password check,
 * so parallel guesses see each other; a successful attempt is taken back.
 *
 * - Per client address: at most `maxFailuresPerAddress` failed attempts in a sliding window; past
 *   it, that address waits until the oldest failure leaves the window.
 * - Per user name: the first `maxFailuresPerName` failures in the window cost nothing; after that
 *   each attempt for the name from an address that is not known for it must wait a delay that
 *   doubles with every further failure (capped at `maxNameDelayMs`). An address from which the
 *   name logged in successfully (within `knownAddressTtlMs`) skips this check, so somebody who
 *   hammers a name slows guessing down without locking its owner out.
 *
 * The attempts live in the store (logins.ts of each store engine), so the nodes of a cluster count them
 * together: a guesser spreading tries over the balancer's nodes gets no more than one node gives.
 * Attempts leave the store once out of the window, known addresses once expired.
 */
import { randomUUID } from 'node:crypto';
import type { LoginAttemptRepository } from '../store/store.js';

export interface LimiterOptions {
  windowMs: number;
  maxFailuresPerAddress: number;
  maxFailuresPerName: number;
  /** Delay after the first failure beyond the free ones; doubles per failure. Default 1 s. */
  baseNameDelayMs?: number;
  /** Longest delay per name. Default 60 s. */
  maxNameDelayMs?: number;
  /** How long a successful login makes its address known for that name. Default 30 days. */
  knownAddressTtlMs?: number;
}

/** An attempt in progress: pass it back to `succeeded` (a failure needs nothing: it stays counted). */
export interface LoginAttempt {
  readonly id: string;
  readonly address: string;
  readonly name: string;
  /** The name logged in from this address before (within the known-address time). */
  readonly known: boolean;
}

export type AttemptDecision = { allowed: true; attempt: LoginAttempt } | { allowed: false; retryAfterSeconds: number };

export class LoginLimiter {
  readonly #o: Required<LimiterOptions>;
  readonly #store: LoginAttemptRepository;

  constructor(store: LoginAttemptRepository, o: LimiterOptions) {
    this.#store = store;
    this.#o = { baseNameDelayMs: 1000, maxNameDelayMs: 60_000, knownAddressTtlMs: 30 * 24 * 3600 * 1000, ...o };
  }

  /** Milliseconds to wait before trying again (0: go ahead), from the recent failures by address and by name. */
  #waitMs(byAddress: readonly number[], byName: readonly number[], known: boolean, now: number): number {
    let wait = 0;
    const maxA = this.#o.maxFailuresPerAddress;
    if (byAddress.length >= maxA) wait = (byAddress[byAddress.length - maxA] ?? now) + this.#o.windowMs - now;
    if (!known) {
      const over = byName.length - this.#o.maxFailuresPerName;
      if (over >= 0) {
        const delay = Math.min(this.#o.maxNameDelayMs, this.#o.baseNameDelayMs * 2 ** Math.min(over, 30));
        wait = Math.max(wait, (byName.at(-1) ?? now) + delay - now);
      }
    }
    return Math.max(0, wait);
  }

  /**
   * Starts an attempt: refused with the seconds to wait, or allowed and counted as a failure
   * until `succeeded` takes it back.
   */
  async begin(address: string, name: string, now = Date.now()): Promise<AttemptDecision> {
    const id = randomUUID();
    let known = false;
    const wait = await this.#store.begin({
      keys: [`a:${address}`, `n:${name}`],
      since: now - this.#o.windowMs,
      known: { name, address },
      at: now,
      attempt: id,
      decide: ([byAddress = [], byName = []], isKnown) => {
        known = isKnown;
        return this.#waitMs(byAddress, byName, isKnown, now);
      },
    });
    return wait > 0 ? { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) } : { allowed: true, attempt: { id, address, name, known } };
  }

  /** The password was right: the attempt does not count, and the address is known for the name. */
  async succeeded(a: LoginAttempt, now = Date.now()): Promise<void> {
    await this.#store.succeeded(a.id, { name: a.name, address: a.address }, now + this.#o.knownAddressTtlMs);
  }

  /** The password was never checked (the node was too busy): the attempt does not count. */
  async withdraw(a: LoginAttempt): Promise<void> {
    await this.#store.withdraw(a.id);
  }

  /** Forgets what is known for a name (its password was reset or it was deleted). */
  async forget(name: string): Promise<void> {
    await this.#store.forget(`n:${name}`, name);
  }
}
