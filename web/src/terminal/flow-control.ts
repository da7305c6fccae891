/**
 * Flow control for terminal output, in the style of ttyd: count the bytes handed to
 * `terminal.write(data, callback)` whose callback has not fired yet, and ask the shell server to
 * stop (PAUSE) above a high watermark and to go on (RESUME) once below a low one.
 *
 * Why this is needed: a browser WebSocket has no receive backpressure, and xterm.js queues every
 * write until it has parsed it. Without a brake, `head -c 50000000 /dev/urandom | base64` arrives
 * far faster than xterm can parse, the queue grows by megabytes a second, keystrokes (Ctrl+C!)
 * wait behind it and the tab freezes. xterm fires a write's callback once it has parsed that
 * chunk, so "written but not yet called back" is exactly the output the tab still owes work on.
 *
 * Two brakes, and why both:
 * - The ACK window (shared/terminal-protocol.ts): the shell server keeps at most the window sent but
 *   not acknowledged (1 MiB), and the browser acknowledges only what xterm has parsed. That bounds the
 *   output in flight on every hop (socket buffers included), so a Ctrl-C shows within a fraction of
 *   a second, and the backlog here stays under about the window by itself.
 * - PAUSE/RESUME, for shell servers that do not speak ACK. Its watermarks (HIGH 1 MiB, LOW
 *   256 KiB) sit above the window on purpose: with a server that does speak ACK they never fire,
 *   because each PAUSE/RESUME pair stalls the output for a round trip through four hops, which
 *   cost about two thirds of the render rate when HIGH was 128 KiB. Against an older server they
 *   still cap the backlog at a few hundred milliseconds of xterm's parsing, with hysteresis (at most
 *   one pair per ~768 KiB) and a RESUME that starts its round trip before xterm runs dry.
 */

/** Pending (unparsed) output above which the browser sends PAUSE. */
export const FLOW_HIGH_WATER_BYTES = 1024 * 1024;
/** Pending output below which, after a PAUSE, the browser sends RESUME. */
export const FLOW_LOW_WATER_BYTES = 256 * 1024;

/** The counter behind PAUSE/RESUME; knows nothing of xterm or sockets, so it is easy to test. */
export class WriteFlowControl {
  readonly #high: number;
  readonly #low: number;
  #pending = 0;
  #paused = false;

  constructor(high = FLOW_HIGH_WATER_BYTES, low = FLOW_LOW_WATER_BYTES) {
    if (!(low < high)) throw new RangeError('the low watermark must be below the high one');
    this.#high = high;
    this.#low = low;
  }

  /** Call when `bytes` are handed to terminal.write; true means "send PAUSE now" (once per crossing). */
  written(bytes: number): boolean {
    this.#pending += bytes;
    if (!this.#paused && this.#pending > this.#high) {
      this.#paused = true;
      return true;
    }
    return false;
  }

  /** Call from the write callback of those `bytes`; true means "send RESUME now". */
  drained(bytes: number): boolean {
    this.#pending = Math.max(0, this.#pending - bytes);
    if (this.#paused && this.#pending < this.#low) {
      this.#paused = false;
      return true;
    }
    return false;
  }

  /**
   * A new connection starts unpaused (the new shell server never got our PAUSE). The pending count
   * is kept: the old connection's writes are still in xterm and their callbacks will still come.
   */
  resetPause(): void {
    this.#paused = false;
  }

  /** Bytes written to xterm and not yet parsed. */
  get pending(): number {
    return this.#pending;
  }

  /** Whether a PAUSE is outstanding. */
  get paused(): boolean {
    return this.#paused;
  }
}
