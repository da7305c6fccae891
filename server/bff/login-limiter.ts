/**
 * Login rate limiting: failures are counted per client address and per user name in a sliding
 * window; past the limit, logins from that address (or for that name) wait. Bounded: at most
 * `maxKeys` keys are tracked, oldest first out.
 */
export interface LimiterOptions {
  windowMs: number;
  maxFailuresPerAddress: number;
  maxFailuresPerName: number;
  maxKeys?: number;
}

export class LoginLimiter {
  readonly #o: Required<LimiterOptions>;
  readonly #failures = new Map<string, number[]>();

  constructor(o: LimiterOptions) {
    this.#o = { maxKeys: 10_000, ...o };
  }

  #recent(key: string, now: number): number[] {
    const list = (this.#failures.get(key) ?? []).filter((t) => t > now - this.#o.windowMs);
    if (list.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, list);
    return list;
  }

  /** Seconds to wait before another attempt, or 0 when one is allowed now. */
  retryAfter(address: string, name: string, now = Date.now()): number {
    const checks: Array<[string, number]> = [[`a:${address}`, this.#o.maxFailuresPerAddress], [`n:${name}`, this.#o.maxFailuresPerName]];
    let wait = 0;
    for (const [key, max] of checks) {
      const list = this.#recent(key, now);
      if (list.length >= max) wait = Math.max(wait, Math.ceil(((list[list.length - max] ?? now) + this.#o.windowMs - now) / 1000));
    }
    return wait;
  }

  fail(address: string, name: string, now = Date.now()): void {
    for (const key of [`a:${address}`, `n:${name}`]) {
      const list = this.#recent(key, now);
      list.push(now);
      this.#failures.delete(key);
      this.#failures.set(key, list.slice(-100));
    }
    while (this.#failures.size > this.#o.maxKeys) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }

  succeed(name: string): void {
    this.#failures.delete(`n:${name}`);
  }
}
