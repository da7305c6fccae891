/**
 * Failed attempts per client address in a sliding window, for routes anyone can call (POST
 * /enroll): past `maxFailures` in `windowMs`, an address is refused until its oldest failure
 * leaves the window. Successes cost nothing. Per node; bounded to `maxKeys` addresses (oldest
 * forgotten first) and to `maxFailures` times per address.
 */
import { DsError, ErrorCode, type ErrorCodeValue } from '../../shared/errors.js';

export interface FailureLimiterOptions {
  windowMs: number;
  maxFailures: number;
  maxKeys?: number;
  code?: ErrorCodeValue;
  what: string;
}

export class FailureLimiter {
  readonly #o: Required<FailureLimiterOptions>;
  readonly #failures = new Map<string, number[]>();

  constructor(o: FailureLimiterOptions) {
    this.#o = { maxKeys: 10_000, code: ErrorCode.ThrottledEnroll, ...o };
  }

  #recent(address: string, now: number): number[] {
    const list = (this.#failures.get(address) ?? []).filter((t) => t > now - this.#o.windowMs);
    if (list.length === 0) this.#failures.delete(address);
    return list;
  }

  /** The typed 429 (with Retry-After) when `address` has failed too often lately, else undefined. */
  refusal(address: string, now = Date.now()): DsError | undefined {
    const list = this.#recent(address, now);
    if (list.length < this.#o.maxFailures) return undefined;
    const wait = Math.max(1, Math.ceil(((list[0] ?? now) + this.#o.windowMs - now) / 1000));
    return new DsError(this.#o.code, `too many failed ${this.#o.what} from ${address}; try again in ${wait} s`, { retryAfterSeconds: wait });
  }

  failed(address: string, now = Date.now()): void {
    const list = this.#recent(address, now);
    list.push(now);
    this.#failures.delete(address);
    this.#failures.set(address, list.slice(-this.#o.maxFailures));
    while (this.#failures.size > this.#o.maxKeys) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }
}
