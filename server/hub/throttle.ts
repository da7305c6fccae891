/**
 * Stream limits of a single hub, kept in memory: a token bucket for initiations per second and
 * caps on concurrent streams per device and in all. (A cluster counts the same limits from its
 * shared store and bus instead, so they hold across nodes: server/cluster/.)
 */
import { DsError, ErrorCode } from '../../shared/errors.js';
import type { Throttle } from './stream-broker.js';

export interface ThrottleOptions {
  maxStreamsPerDevice: number;
  maxStreamsPerHub: number;
  initiationsPerSecond: number;
}

/** The 429 errors, worded once for every throttle. */
export const throttled = {
  rate: (rate: number, retryAfterSeconds: number): DsError =>
    new DsError(ErrorCode.ThrottledRate, `more than ${rate} stream initiations per second; retry shortly`, { retryAfterSeconds }),
  hub: (n: number): DsError => new DsError(ErrorCode.ThrottledHub, `the hub already carries ${n} streams (its limit); retry when some end`, { retryAfterSeconds: 5 }),
  device: (deviceId: string, n: number): DsError =>
    new DsError(ErrorCode.ThrottledDevice, `device "${deviceId}" already has ${n} streams (its limit); retry when one ends`, { retryAfterSeconds: 5 }),
};

export class StreamThrottle implements Throttle {
  readonly #opts: ThrottleOptions;
  #tokens: number;
  #last = Date.now();
  readonly #perDevice = new Map<string, number>();
  /** Which device each held slot belongs to. */
  readonly #slots = new Map<string, string>();

  constructor(opts: ThrottleOptions) {
    this.#opts = opts;
    this.#tokens = opts.initiationsPerSecond;
  }

  acquire(deviceId: string, streamId: string): Promise<void> {
    // A throw in the executor rejects the promise with the 429 error.
    return new Promise((resolve) => {
      this.#take(deviceId, streamId);
      resolve();
    });
  }

  #take(deviceId: string, streamId: string): void {
    const now = Date.now();
    const rate = this.#opts.initiationsPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#last) / 1000) * rate);
    this.#last = now;
    if (this.#tokens < 1) throw throttled.rate(rate, (1 - this.#tokens) / rate);
    if (this.#slots.size >= this.#opts.maxStreamsPerHub) throw throttled.hub(this.#slots.size);
    const n = this.#perDevice.get(deviceId) ?? 0;
    if (n >= this.#opts.maxStreamsPerDevice) throw throttled.device(deviceId, n);
    this.#tokens -= 1;
    this.#slots.set(streamId, deviceId);
    this.#perDevice.set(deviceId, n + 1);
  }

  restore(deviceId: string, streamId: string): void {
    if (this.#slots.has(streamId)) return;
    this.#slots.set(streamId, deviceId);
    this.#perDevice.set(deviceId, (this.#perDevice.get(deviceId) ?? 0) + 1);
  }

  release(streamId: string): void {
    const deviceId = this.#slots.get(streamId);
    if (deviceId === undefined) return;
    this.#slots.delete(streamId);
    const n = this.#perDevice.get(deviceId) ?? 0;
    if (n <= 1) this.#perDevice.delete(deviceId);
    else this.#perDevice.set(deviceId, n - 1);
  }
}
