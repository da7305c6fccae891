/**
 * A resumable stream's watch over its current WebSocket leg (node-only).
 *
 * Liveness: the endpoint pings every `hb` ms, so a leg on which nothing at all arrived for two of
 * them (and a second) while we were reading is a dead path (a blackhole, a sleeping laptop, a NAT
 * that forgot us) even though no socket closed; it is terminated, so the stream resumes on a new
 * one. A leg we paused is not judged: the endpoint's pings wait behind its data.
 *
 * Holding: while the local reader is behind, the leg is paused at the readable high-water mark,
 * as a v1 stream's is (chunks queued longer outlive the young generation, and what waits unread
 * stays small). A leg held that long (the same two pings and a second) is read on until the reader
 * catches up, so a lost leg is still seen; the other side's window then bounds what waits.
 */
import type { WebSocket } from 'ws';

export class LegWatch {
  #timer: NodeJS.Timeout | undefined;
  #heardAt = 0;
  #hold = true;
  #pausedAt = 0;

  /** Something arrived on the current leg (a new leg counts as heard from). */
  heard(): void {
    this.#heardAt = Date.now();
  }

  /** Watches `ws` for the endpoint's ping interval `hb`; a later call replaces the watch. */
  start(ws: WebSocket, hb: number, current: () => boolean): void {
    this.stop();
    const limit = 2 * hb + 1000;
    this.#timer = setInterval(() => {
      if (!current()) return;
      const now = Date.now();
      if (ws.isPaused) {
        if (this.#hold && now - this.#pausedAt > limit) {
          this.#hold = false;
          ws.resume();
        }
        this.#heardAt = now;
      } else if (now - this.#heardAt > limit) ws.terminate();
    }, Math.min(hb, 5000));
    this.#timer.unref();
  }

  /** The reader has no room for what arrived on `ws`: hold the leg, unless it is being read on. */
  full(ws: WebSocket | undefined): void {
    if (!this.#hold || ws === undefined || ws.isPaused) return;
    ws.pause();
    this.#pausedAt = Date.now();
  }

  /** The reader caught up: back to holding the leg when it falls behind. */
  caughtUp(): void {
    this.#hold = true;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
