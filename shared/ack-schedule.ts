/**
 * When a resumable stream's receiving side acknowledges (node-only): once ACK_EVERY_BYTES have
 * been taken, at the end of the current turn of the event loop, and within ACK_INTERVAL_MS of
 * anything smaller, so the sender can forget what arrived and its writer go on.
 *
 * One acknowledgement per turn: a busy receiver reads a burst of frames in one turn (about 1 MiB
 * on loopback), and one acknowledgement of all of them, sent before the process waits again, tells
 * the sender what one per quarter MiB would have told it, at most one turn later, for a quarter of
 * the frames through the receiver, the endpoint and the sender.
 *
 * One timer per stream, armed again (not made anew) when needed: an acknowledgement sent meanwhile
 * leaves it running, and it then finds little or nothing to say.
 */
import { ACK_EVERY_BYTES, ACK_INTERVAL_MS } from './stream-protocol.js';

export class AckSchedule {
  readonly #offset: () => number;
  readonly #send: (offset: number) => boolean;
  #acked = 0;
  #timer: NodeJS.Timeout | undefined;
  #armed = false;
  /** An acknowledgement due at the end of this turn. */
  #soon: NodeJS.Immediate | undefined;

  /**
   * `offset`: what to acknowledge now; `send`: sends an acknowledgement, false when it cannot
   * (no leg ready) — the offset is then offered again next time.
   */
  constructor(offset: () => number, send: (offset: number) => boolean) {
    this.#offset = offset;
    this.#send = send;
  }

  /** Bytes were taken by the reader (`consumed` in all): acknowledge at the end of this turn, or soon. */
  schedule(consumed: number): void {
    if (consumed - this.#acked >= ACK_EVERY_BYTES) {
      this.#soon ??= setImmediate(() => {
        this.#soon = undefined;
        this.now();
      });
    } else if (!this.#armed && consumed > this.#acked) {
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
    if (this.#soon !== undefined) clearImmediate(this.#soon);
    this.#soon = undefined;
  }
}
