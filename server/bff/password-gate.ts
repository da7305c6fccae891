/**
 * How many password checks a console node runs at once, and how many wait. A check is a scrypt
 * (tens of milliseconds of a core, on libuv's pool): a guesser who spreads tries over many
 * addresses and names passes the per-address and per-name limits (login-limiter.ts), and without a
 * bound every check would queue on the pool, the node's cores would go to them, and a real login
 * would wait behind all of them.
 *
 * Two lanes: a name logging in from an address it logged in from before ("known", the limiter's
 * notion) goes ahead of everyone else, so an owner is not kept out by a flood from elsewhere. Each
 * lane holds at most `maxWaiting`; past that a check is refused at once (503 with Retry-After)
 * rather than queued.
 */
import { ApiFailure } from './api-errors.js';

export interface PasswordGateOptions {
  /** Checks running at once. */
  maxRunning: number;
  /** Checks waiting, per lane. */
  maxWaiting: number;
}

export const DEFAULT_PASSWORD_GATE: Readonly<PasswordGateOptions> = Object.freeze({ maxRunning: 2, maxWaiting: 32 });

export class PasswordGate {
  readonly #o: PasswordGateOptions;
  #running = 0;
  readonly #lanes: { known: Array<() => void>; other: Array<() => void> } = { known: [], other: [] };

  constructor(o: PasswordGateOptions = DEFAULT_PASSWORD_GATE) {
    this.#o = o;
  }

  /** Checks running and waiting now. */
  get load(): { running: number; waitingKnown: number; waitingOther: number } {
    return { running: this.#running, waitingKnown: this.#lanes.known.length, waitingOther: this.#lanes.other.length };
  }

  /** Runs `check` when a place is free; throws 503 `login_busy` when its lane is full. */
  async run<T>(known: boolean, check: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#o.maxRunning) {
      const lane = known ? this.#lanes.known : this.#lanes.other;
      if (lane.length >= this.#o.maxWaiting) {
        throw new ApiFailure(503, 'login_busy', 'Too many logins are being checked right now; try again in a moment.', { 'retry-after': '1' });
      }
      await new Promise<void>((resolve) => lane.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await check();
    } finally {
      // The place goes to the next waiter (known first) or is freed.
      const next = this.#lanes.known.shift() ?? this.#lanes.other.shift();
      if (next !== undefined) next();
      else this.#running -= 1;
    }
  }
}
