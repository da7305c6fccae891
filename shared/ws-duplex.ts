/**
 * A stream bridge WebSocket as a Node Duplex (node-only). Writes are split into frames of at most
 * 64 KiB and sent without copying; the writable side holds back (callback withheld) while more than
 * a high watermark is queued towards the socket. Reads pause the socket when the consumer does not
 * keep up. `end()` closes the WebSocket with 1000 after everything written has been sent (WebSocket
 * has no half-close). A close with 1000 from the far side ends the readable side after the bytes
 * that came before it (a write waiting then, and any after it, is held and never called back; see
 * closeOnceRead); a close with any other code destroys the Duplex with a StreamClosedError.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { describeClose } from './close-codes.js';
import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_LOW_WATER_BYTES, MAX_FRAME_BYTES } from './limits.js';
import { closeWithin, wsClosed } from './ws-close.js';

/** The stream was closed by the far side (or the network) with a code other than 1000. */
export class StreamClosedError extends Error {
  readonly closeCode: number;
  readonly closeReason: string;

  constructor(code: number, reason: string) {
    super(`stream closed: ${describeClose(code, reason)}`);
    this.name = 'StreamClosedError';
    this.closeCode = code;
    this.closeReason = reason;
  }
}

/** How long (in seconds, one tick each) the rest of a cleanly closed stream waits for a reader that stopped taking it. */
const UNREAD_GRACE_TICKS = 30;

/**
 * The far side closed a v1 stream cleanly and `d`'s readable side has had its end (push(null)):
 * `d` is destroyed once its reader has taken the rest, which may take the reader its time. Writes
 * meanwhile are held, never called back (the caller's part: backpressure, and nothing reported as
 * delivered). A reader that takes nothing for 30 s while its own side has not ended (a user that
 * only writes) gets an error saying how much it left unread, so it still sees the stream close.
 */
export function closeOnceRead(d: Duplex): void {
  if (d.destroyed) return;
  if (d.readableEnded) {
    d.destroy();
    return;
  }
  d.once('end', () => d.destroy());
  // Nothing left: a read of nothing emits 'end' (so a pipe ends its destination), paused or not.
  if (d.readableLength === 0) {
    d.read(0);
    return;
  }
  let left = d.readableLength;
  let idle = 0;
  const watch = setInterval(() => {
    if (d.readableLength < left || d.writableEnded) {
      left = d.readableLength;
      idle = 0;
    } else if (++idle >= UNREAD_GRACE_TICKS) {
      d.destroy(new StreamClosedError(1000, `the other side ended the stream; ${left} byte(s) it sent were not read within ${UNREAD_GRACE_TICKS} s`));
    }
  }, 1000);
  watch.unref();
  d.once('close', () => clearInterval(watch));
}

export class WebSocketDuplex extends Duplex {
  readonly #ws: WebSocket;
  #queued = 0;
  #waiting: ((err?: Error | null) => void) | undefined;
  /** The far side closed the stream cleanly (1000): writes are held (closeOnceRead). */
  #farClosed = false;
  /** Close code and reason once the socket has closed. */
  closeCode: number | undefined;
  closeReason = '';

  constructor(ws: WebSocket) {
    super({ allowHalfOpen: false, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.#ws = ws;
    ws.on('message', (data, isBinary) => {
      // Nothing is held for a destroyed Duplex: the close reply behind these frames must be read.
      if (!isBinary || this.destroyed) return;
      if (!this.push(data)) ws.pause();
    });
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString('utf8');
      // Destroyed here first (its close echoed back): nothing is left to deliver or to tell.
      if (this.destroyed) return;
      if (code === 1000) {
        // The far side ended the stream. What it sent before is still read to the end (destroying
        // the Duplex now would drop what the reader has not taken yet); anything written from here
        // on has nowhere to go and waits (closeOnceRead), as does a write already waiting: its
        // bytes did not all leave.
        this.#farClosed = true;
        this.push(null);
        closeOnceRead(this);
      } else {
        const err = new StreamClosedError(code, this.closeReason);
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting?.(err);
        this.destroy(err);
      }
    });
  }

  override _read(): void {
    this.#ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // Held, not called back: nothing written after the far side's close is delivered.
    if (this.#farClosed) return;
    if (this.#ws.readyState !== this.#ws.OPEN) {
      callback(new StreamClosedError(this.closeCode ?? 1006, 'the stream is closed'));
      return;
    }
    for (let off = 0; off < chunk.length; off += MAX_FRAME_BYTES) {
      const slice = off === 0 && chunk.length <= MAX_FRAME_BYTES ? chunk : chunk.subarray(off, off + MAX_FRAME_BYTES);
      this.#queued += slice.length;
      this.#ws.send(slice, { binary: true }, (err) => this.#sent(slice.length, err));
    }
    if (this.#queued <= BRIDGE_HIGH_WATER_BYTES) callback();
    else this.#waiting = callback;
  }

  #sent(size: number, err: Error | undefined): void {
    this.#queued -= size;
    // A frame that never left (the socket went) lets no writer on: the close that follows says how
    // the stream ended, and a write waiting then is never reported as delivered.
    if (err != null || this.#farClosed) return;
    if (this.#waiting !== undefined && this.#queued <= BRIDGE_LOW_WATER_BYTES) {
      const cb = this.#waiting;
      this.#waiting = undefined;
      cb();
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    // The socket may be paused by our reader; read again so the close reply is seen.
    if (this.#ws.readyState === this.#ws.OPEN) {
      this.#ws.resume();
      this.#ws.close(1000);
    }
    callback();
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    if (this.#ws.readyState === this.#ws.OPEN || this.#ws.readyState === this.#ws.CONNECTING) {
      if (err === null) closeWithin(this.#ws, 1000, '', 2000);
      else closeWithin(this.#ws, 4001, err.message, 2000);
    }
    this.#legClosed = wsClosed(this.#ws);
    callback(err);
  }

  /** Resolves once the WebSocket is closed after a destroy (see ResumableStream.legClosed). */
  legClosed(): Promise<void> {
    return this.#legClosed;
  }

  #legClosed: Promise<void> = Promise.resolve();
}
