/**
 * Stream limits that hold across the cluster, counted in the shared store: concurrent streams per
 * device and in all are the stream log's live records (a new stream's own record, written before
 * this check, counts too, so two nodes admitting at once both see each other), and the initiation
 * rate is one token bucket in the store, timed by the database's clock.
 */
import { throttled, type ThrottleOptions } from '../hub/throttle.js';
import type { Throttle } from '../hub/stream-broker.js';
import type { Store } from '../store/store.js';

export class ClusterThrottle implements Throttle {
  readonly #store: Store;
  readonly #o: ThrottleOptions;

  constructor(store: Store, o: ThrottleOptions) {
    this.#store = store;
    this.#o = o;
  }

  async acquire(deviceId: string): Promise<void> {
    const wait = await this.#store.rates.take('stream-initiations', this.#o.initiationsPerSecond);
    if (wait > 0) throw throttled.rate(this.#o.initiationsPerSecond, wait);
    const { device, all } = await this.#store.streams.liveCounts(deviceId);
    // Both counts include the new stream's own record.
    if (all > this.#o.maxStreamsPerHub) throw throttled.hub(all - 1);
    if (device > this.#o.maxStreamsPerDevice) throw throttled.device(deviceId, device - 1);
  }

  /** Nothing to give back: a stream stops counting when its record ends. */
  release(): void {
    // Counted from the store.
  }
}
