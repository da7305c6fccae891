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
 * Why these watermarks:
 * - HIGH = 128 KiB. xterm parses on the order of 10 MB/s, so 128 KiB is roughly 10 ms of work:
 *   a keystroke typed during a flood is echoed after a barely noticeable delay. It is also two
 *   full bridge frames (64 KiB each, shared/limits.ts), so ordinary bursty output (an `ls -R`,
 *   a screen redraw) never triggers a pause; only a sustained flood does. Bytes already in flight
 *   when PAUSE goes out (socket buffers on the BFF, gateway and device, each bounded by its own
 *   backpressure) are still written, never dropped: memory in the tab stays bounded by HIGH plus
 *   that in-flight amount.
 * - LOW = 16 KiB. Well below HIGH, so PAUSE/RESUME go out at most once per ~112 KiB of output
 *   instead of flapping on every frame (hysteresis), yet above zero, so the RESUME starts its
 *   round trip while xterm still has output to parse and the screen keeps scrolling.
 */

/** Pending (unparsed) output above which the browser sends PAUSE. */
export const FLOW_HIGH_WATER_BYTES = 128 * 1024;
/** Pending output below which, after a PAUSE, the browser sends RESUME. */
export const FLOW_LOW_WATER_BYTES = 16 * 1024;

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
