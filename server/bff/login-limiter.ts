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
 * Bounded: at most `maxKeys` failure lists and known-address entries, oldest first out.
 */
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
  maxKeys?: number;
}

/** An attempt in progress: pass it back to `succeeded` or `failed`. */
export interface LoginAttempt {
  readonly address: string;
  readonly name: string;
  readonly at: number;
}

export type AttemptDecision = { allowed: true; attempt: LoginAttempt } | { allowed: false; retryAfterSeconds: number };

export class LoginLimiter {
  readonly #o: Required<LimiterOptions>;
  readonly #failures = new Map<string, number[]>();
  readonly #known = new Map<string, number>();

  constructor(o: LimiterOptions) {
    this.#o = { maxKeys: 10_000, baseNameDelayMs: 1000, maxNameDelayMs: 60_000, knownAddressTtlMs: 30 * 24 * 3600 * 1000, ...o };
  }

  #recent(key: string, now: number): number[] {
    const list = (this.#failures.get(key) ?? []).filter((t) => t > now - this.#o.windowMs);
    if (list.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, list);
    return list;
  }

  #push(key: string, at: number): void {
    const list = this.#recent(key, at);
    list.push(at);
    this.#failures.delete(key);
    this.#failures.set(key, list.slice(-100));
    while (this.#failures.size > this.#o.maxKeys) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }

  #isKnown(address: string, name: string, now: number): boolean {
    const until = this.#known.get(`${name}\u0000${address}`);
    return until !== undefined && until > now;
  }

  /** Milliseconds this address must wait before trying `name` again (0: go ahead). */
  #waitMs(address: string, name: string, now: number): number {
    let wait = 0;
    const byAddress = this.#recent(`a:${address}`, now);
    const maxA = this.#o.maxFailuresPerAddress;
    if (byAddress.length >= maxA) wait = (byAddress[byAddress.length - maxA] ?? now) + this.#o.windowMs - now;
    if (!this.#isKnown(address, name, now)) {
      const byName = this.#recent(`n:${name}`, now);
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
  begin(address: string, name: string, now = Date.now()): AttemptDecision {
    const wait = this.#waitMs(address, name, now);
    if (wait > 0) return { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) };
    this.#push(`a:${address}`, now);
    this.#push(`n:${name}`, now);
    return { allowed: true, attempt: { address, name, at: now } };
  }

  /** The password was right: the attempt does not count, and the address is known for the name. */
  succeeded(a: LoginAttempt, now = Date.now()): void {
    for (const key of [`a:${a.address}`, `n:${a.name}`]) {
      const list = this.#failures.get(key);
      const i = list?.lastIndexOf(a.at) ?? -1;
      if (list !== undefined && i >= 0) list.splice(i, 1);
    }
    const knownKey = `${a.name}\u0000${a.address}`;
    this.#known.delete(knownKey);
    this.#known.set(knownKey, now + this.#o.knownAddressTtlMs);
    while (this.#known.size > this.#o.maxKeys) {
      const oldest = this.#known.keys().next().value;
      if (oldest === undefined) break;
      this.#known.delete(oldest);
    }
  }

  /** Forgets what is known for a name (its password was reset or it was deleted). */
  forget(name: string): void {
    this.#failures.delete(`n:${name}`);
    for (const key of [...this.#known.keys()]) if (key.startsWith(`${name}\u0000`)) this.#known.delete(key);
  }
}
