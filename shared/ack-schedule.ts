/**
 * When a resumable stream's receiving side acknowledges (node-only): at once every ACK_EVERY_BYTES
 * taken, and within ACK_INTERVAL_MS of anything smaller, so the sender can forget what arrived and
 * its writer go on. One timer per stream, armed again (not made anew) when needed: an
 * acknowledgement sent meanwhile leaves it running, and it then finds little or nothing to say.
 */
import { ACK_EVERY_BYTES, ACK_INTERVAL_MS } from './stream-protocol.js';

export class AckSchedule {
  readonly #offset: () => number;
  readonly #send: (offset: number) => boolean;
  #acked = 0;
  #timer: NodeJS.Timeout | undefined;
  #armed = false;

  /**
   * `offset`: what to acknowledge now; `send`: sends an acknowledgement, false when it cannot
   * (no leg ready) — the offset is then offered again next time.
   */
  constructor(offset: () => number, send: (offset: number) => boolean) {
    this.#offset = offset;
    this.#send = send;
  }

  /** Bytes were taken by the reader (`consumed` in all): acknowledge now or soon. */
  schedule(consumed: number): void {
    if (consumed - this.#acked >= ACK_EVERY_BYTES) this.now();
    else if (!this.#armed && consumed > this.#acked) {
      this.#armed = true;
      if (this.#timer === undefined) {
        this.#timer = setTimeout(() => {
          this.#armed = false;
          this.now();
        }, ACK_INTERVAL_MS);
        this.#timer.unref();
      } else this.#timer.refresh();
    }
  }

  /** Acknowledges what there is to acknowledge, now. */
  now(): void {
    const offset = this.#offset();
    if (offset <= this.#acked || !this.#send(offset)) return;
    this.#acked = offset;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
