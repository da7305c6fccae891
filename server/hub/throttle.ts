/** Stream throttles: a token bucket for initiations per second, and concurrency caps. */
import { DsError, ErrorCode } from '../../shared/errors.js';

export interface ThrottleOptions {
  maxStreamsPerDevice: number;
  maxStreamsPerHub: number;
  initiationsPerSecond: number;
}

export class StreamThrottle {
  readonly #opts: ThrottleOptions;
  #tokens: number;
  #last = Date.now();
  readonly #perDevice = new Map<string, number>();
  #total = 0;

  constructor(opts: ThrottleOptions) {
    this.#opts = opts;
    this.#tokens = opts.initiationsPerSecond;
  }

  /** Reserves a slot for a new stream on `deviceId`, or throws the 429 DsError. Pair with release(). */
  acquire(deviceId: string): void {
    const now = Date.now();
    const rate = this.#opts.initiationsPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#last) / 1000) * rate);
    this.#last = now;
    if (this.#tokens < 1) {
      throw new DsError(ErrorCode.ThrottledRate, `more than ${rate} stream initiations per second; retry shortly`, {
        retryAfterSeconds: (1 - this.#tokens) / rate,
      });
    }
    if (this.#total >= this.#opts.maxStreamsPerHub) {
      throw new DsError(ErrorCode.ThrottledHub, `the hub already carries ${this.#total} streams (its limit); retry when some end`, { retryAfterSeconds: 5 });
    }
    const n = this.#perDevice.get(deviceId) ?? 0;
    if (n >= this.#opts.maxStreamsPerDevice) {
      throw new DsError(ErrorCode.ThrottledDevice, `device "${deviceId}" already has ${n} streams (its limit); retry when one ends`, { retryAfterSeconds: 5 });
    }
    this.#tokens -= 1;
    this.#total += 1;
    this.#perDevice.set(deviceId, n + 1);
  }

  release(deviceId: string): void {
    const n = this.#perDevice.get(deviceId) ?? 0;
    if (n <= 0) return;
    this.#total -= 1;
    if (n === 1) this.#perDevice.delete(deviceId);
    else this.#perDevice.set(deviceId, n - 1);
  }
}
