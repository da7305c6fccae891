/**
 * One side of a v2 stream (shared/stream-protocol.ts) as a Node Duplex, node-only: half-close (each
 * direction ends on its own, as TCP and SSH channels do) and, when both sides speak v2, resume —
 * the WebSocket leg to the streaming endpoint may be lost (hub or endpoint restart, a node dying, a
 * network cut, a sleeping laptop) and the local connection stays open: the stream gets a new leg
 * through `reconnect` (a resume credential from the hub), both sides say how much they received,
 * and each sends the rest again, so no byte is lost, duplicated or reordered.
 *
 * Outgoing bytes stay in a bounded buffer until the other side acknowledges them; when it is full
 * the writer waits (backpressure, never growth). When the other side does not speak v2 the stream
 * behaves as v1: no buffer, ending the writable side closes the stream.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CloseCode, describeClose } from './close-codes.js';
import { BRIDGE_HIGH_WATER_BYTES, BRIDGE_LOW_WATER_BYTES, HANDSHAKE_DEADLINE_MS, MAX_FRAME_BYTES } from './limits.js';
import { MAX_RESUME_BUFFER_BYTES, decodeStreamControl, encodeStreamControl, type StreamControl } from './stream-protocol.js';
import { AckSchedule } from './ack-schedule.js';
import { retryLeg } from './leg-retry.js';
import { LegWatch } from './leg-watch.js';
import { ResendBuffer } from './resend-buffer.js';
import { closeWithin, wsClosed } from './ws-close.js';
import { StreamClosedError, closeOnceRead } from './ws-duplex.js';

export interface ResumableStreamOptions {
  /** A new leg to the streaming endpoint for this stream (resume credential, v2 subprotocol). */
  reconnect: () => Promise<WebSocket>;
  /** How long the stream may stay interrupted before it ends with ResumeTimeout. */
  windowMs: number;
  /** Most unacknowledged bytes kept for a resume; the writer waits beyond it. */
  bufferBytes: number;
  /** Errors from `reconnect` that mean the stream cannot come back (it ended, the key is wrong). */
  isFatal?: (err: unknown) => boolean;
  /** Told of each interruption and resume. */
  onEvent?: (event: 'interrupted' | 'resumed', detail: string) => void;
  /** Tells the hub this side gave the stream up while it was interrupted (so the other side need not wait). */
  abandon?: (reason: string) => Promise<void>;
  /**
   * How long the first leg waits for the endpoint to say the other side is there (default: the
   * hub's handshake deadline and a little more). A path that went silent before pairing closes no
   * socket, so without it a side could wait for ever.
   */
  pairingTimeoutMs?: number;
}

/** Unread bytes past which the other side broke its window: the socket is then paused (v1 flow control). */
const MAX_UNREAD_BYTES = MAX_RESUME_BUFFER_BYTES + 1024 * 1024;

/** How long past its window a side waits for the hub's word before giving the stream up itself. */
const WINDOW_GRACE_MS = 3000;

/** Close codes after which a v2 leg is resumed rather than the stream ended. */
const RESUMABLE = new Set<number>([1001, 1006, 1011, 1012, 1013, CloseCode.PeerInterrupted, CloseCode.HubShutdown, CloseCode.HeartbeatTimeout]);

export class ResumableStream extends Duplex {
  readonly #o: ResumableStreamOptions;
  #ws: WebSocket | undefined;
  #peer: 'unknown' | 'v1' | 'v2' = 'unknown';
  #resuming = false;
  /** On a resumed leg: the other side's resume offset has not arrived yet, so nothing is sent. */
  #awaitingPeerResume = false;
  /** The current leg's liveness, and its pause while the local reader is behind (leg-watch.ts). */
  readonly #watch = new LegWatch();
  /** The endpoint's ping interval, once a `peer` frame said it. */
  #hb: number | undefined;
  /** Ends the stream if it is still not resumed when its window (and a little grace) has passed. */
  #windowTimer: NodeJS.Timeout | undefined;
  /** Ends the stream if the first leg is never paired with the other side. */
  #pairingTimer: NodeJS.Timeout | undefined;
  // Outgoing: what was written, kept until the other side confirms it.
  readonly #out = new ResendBuffer();
  /** Bytes handed to the current leg and not yet flushed to its socket. */
  #queued = 0;
  #waiting: ((err?: Error | null) => void) | undefined;
  // Incoming.
  #received = 0;
  readonly #acks = new AckSchedule(
    // Once the other side's direction has ended nothing more comes: everything received is
    // acknowledged (flow control has nothing left to hold back), so it can finish.
    () => (this.#peerEnded ? this.#received : this.#consumed()),
    (offset) => {
      if (!this.#ready()) return false;
      this.#control({ type: 'ack', offset });
      return true;
    },
  );
  // Ending.
  #finalPending: ((err?: Error | null) => void) | undefined;
  #localEnded = false;
  #peerEnded = false;
  #done = false;
  /** A v1 peer closed the stream cleanly (1000): writes are held (closeOnceRead). */
  #farClosed = false;
  #legClosed: Promise<void> = Promise.resolve();
  /** Close code and reason of the leg that ended the stream. */
  closeCode: number | undefined;
  closeReason = '';
  streamId?: string;

  constructor(first: WebSocket, o: ResumableStreamOptions) {
    // Not autoDestroy: the stream is over when both directions ended and the other side has all
    // our bytes (#maybeFinish), not as soon as both halves of the Duplex are done.
    super({ allowHalfOpen: true, autoDestroy: false, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.#o = o;
    this.#attach(first, false);
    this.#pairingTimer = setTimeout(() => {
      if (this.#peer === 'unknown' && !this.destroyed) this.destroy(new StreamClosedError(CloseCode.HandshakeTimeout, 'the other side did not connect in time'));
    }, o.pairingTimeoutMs ?? HANDSHAKE_DEADLINE_MS + 5000);
    this.#pairingTimer.unref();
  }

  /**
   * Once the leg is closed after a destroy (answered, or cut off after 2 s) and the hub told of a
   * give-up while interrupted: what a process exiting right after waits for, or the other side
   * and the hub would see a lost connection (and wait out a resume window).
   */
  legClosed(): Promise<void> {
    return this.#legClosed;
  }

  /** Whether the other side speaks v2 (known once both sides are connected). */
  get peerV2(): boolean | undefined {
    return this.#peer === 'unknown' ? undefined : this.#peer === 'v2';
  }

  #ready(): boolean {
    return this.#ws !== undefined && this.#ws.readyState === this.#ws.OPEN && !this.#resuming && !this.#awaitingPeerResume && this.#peer !== 'unknown';
  }

  #attach(ws: WebSocket, resumed: boolean): void {
    this.#ws = ws;
    // A resumed leg carries nothing until both sides have said how much they received: a byte
    // sent before that would be sent again with the rest.
    this.#awaitingPeerResume = resumed;
    ws.on('error', () => undefined);
    this.#watch.heard();
    ws.on('ping', () => this.#watch.heard());
    ws.on('message', (data, isBinary) => {
      // Given up: what still arrives has nowhere to go, and holding the leg for it would keep the
      // close reply behind it unread (the closing handshake would run into its time limit).
      if (this.#ws !== ws || this.destroyed) return;
      this.#watch.heard();
      if (isBinary) this.#onData(data as Buffer);
      else {
        const m = decodeStreamControl((data as Buffer).toString('utf8'));
        if (m !== undefined) this.#onControl(m, resumed);
      }
    });
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#watch.stop();
      this.#onLegClose(code, reason.toString('utf8'));
    });
    // A resumed leg may wait at the endpoint for the other side: the endpoint's pings still come.
    if (resumed && this.#hb !== undefined) this.#watchLeg(ws, this.#hb);
    // connectWebSocket hands the socket over paused, so nothing arrived before these listeners.
    ws.resume();
  }

  #watchLeg(ws: WebSocket, hb: number): void {
    this.#watch.start(ws, hb, () => this.#ws === ws);
  }

  #send(buf: Buffer): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    for (let off = 0; off < buf.length; off += MAX_FRAME_BYTES) {
      const slice = off === 0 && buf.length <= MAX_FRAME_BYTES ? buf : buf.subarray(off, off + MAX_FRAME_BYTES);
      this.#queued += slice.length;
      ws.send(slice, { binary: true }, (err) => {
        this.#queued -= slice.length;
        // To a v1 peer a frame that never left is lost (nothing is kept to send again): no writer
        // goes on as if it were delivered; the leg's close says how the stream ended.
        if (err == null || this.#peer !== 'v1') this.#release();
      });
    }
  }

  #control(m: StreamControl): void {
    if (this.#ws?.readyState === this.#ws?.OPEN) this.#ws?.send(encodeStreamControl(m));
  }

  /** Lets a waiting writer go on once the buffer and the leg have room. */
  #release(): void {
    if (this.#waiting === undefined || this.#farClosed) return;
    const bufferOk = this.#peer === 'v1' || this.#out.bytes <= this.#o.bufferBytes;
    if (bufferOk && this.#queued <= BRIDGE_LOW_WATER_BYTES) {
      const cb = this.#waiting;
      this.#waiting = undefined;
      cb();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // Held, not called back: nothing written after a v1 peer's close is delivered (closeOnceRead).
    if (this.#farClosed) return;
    if (this.#done) {
      callback(new StreamClosedError(this.closeCode ?? 1006, 'the stream is closed'));
      return;
    }
    this.#out.add(chunk, this.#peer !== 'v1');
    if (this.#ready() || (this.#peer === 'unknown' && !this.#resuming && this.#ws?.readyState === this.#ws?.OPEN)) this.#send(chunk);
    const full = (this.#peer !== 'v1' && this.#out.bytes > this.#o.bufferBytes) || this.#queued > BRIDGE_HIGH_WATER_BYTES;
    if (full) this.#waiting = callback;
    else callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.#peer === 'unknown') {
      this.#finalPending = callback;
      return;
    }
    this.#end(callback);
  }

  #end(callback: (err?: Error | null) => void): void {
    if (this.#peer === 'v1') {
      // No half-close with a v1 side: ending our writing ends the stream, as v1 does.
      this.#ws?.resume();
      if (this.#ws?.readyState === this.#ws?.OPEN) this.#ws?.close(1000);
      callback();
      return;
    }
    this.#localEnded = true;
    if (this.#ready()) this.#control({ type: 'end' });
    callback();
    this.#maybeFinish();
  }

  override _read(): void {
    this.#watch.caughtUp();
    this.#ws?.resume();
    // The local reader took bytes: the other side may send that many more.
    if (this.#peer === 'v2') this.#acks.schedule(this.#consumed());
  }

  /** Bytes received and taken by the local reader (what acknowledgements report). */
  #consumed(): number {
    return this.#received - this.readableLength;
  }

  #onData(buf: Buffer): void {
    this.#received += buf.length;
    const room = this.push(buf);
    if (this.#peer === 'v2') {
      // The other side sends at most its resume buffer beyond what we acknowledged, and we
      // acknowledge only what the local reader took. A reader that falls behind gets the leg held
      // at the high-water mark, and read on if it stays behind (leg-watch.ts); past twice the
      // largest buffer the other side breaks the protocol.
      if (this.readableLength > MAX_UNREAD_BYTES) this.#ws?.pause();
      else if (!room) this.#watch.full(this.#ws);
      this.#acks.schedule(this.#consumed());
    } else if (!room) this.#ws?.pause();
  }

  /** The other side has everything up to `offset`: forget it (and let a waiting writer go on). */
  #trim(offset: number, release = true): void {
    const trimmed = this.#out.trim(offset);
    if (trimmed === 'beyond') {
      this.destroy(new StreamClosedError(CloseCode.ProtocolError, `the other side acknowledged ${offset} bytes of ${this.#out.sent} sent`));
      return;
    }
    // 'known': behind what we already know it has (an acknowledgement of what its reader took,
    // after a resume told us what it received): nothing was forgotten.
    if (!release) return;
    if (trimmed === 'known') {
      this.#release();
      return;
    }
    this.#release();
    this.#maybeFinish();
  }

  #onControl(m: StreamControl, resumed: boolean): void {
    switch (m.type) {
      case 'peer':
        clearTimeout(this.#pairingTimer);
        if (m.hb !== undefined && (m.v2 || resumed) && this.#ws !== undefined) {
          this.#hb = m.hb;
          this.#watchLeg(this.#ws, m.hb);
        }
        if (resumed) {
          if (!m.v2) {
            this.destroy(new StreamClosedError(CloseCode.ProtocolError, 'the other side came back without v2'));
            return;
          }
          // Say how much arrived; nothing is sent until the other side says the same.
          this.#ws?.send(encodeStreamControl({ type: 'resume', offset: this.#received }));
          return;
        }
        this.#peer = m.v2 ? 'v2' : 'v1';
        this.emit('peer', m.v2);
        if (!m.v2) {
          // v1 on the other side: nothing to keep for a resume.
          this.#out.clear();
          this.#release();
        }
        if (this.#finalPending !== undefined) {
          const cb = this.#finalPending;
          this.#finalPending = undefined;
          this.#end(cb);
        }
        return;
      case 'ack':
        this.#trim(m.offset);
        return;
      case 'end':
        this.#peerEnded = true;
        this.push(null);
        // Tell the other side at once that everything arrived, so it can finish.
        this.#acks.now();
        this.#maybeFinish();
        return;
      case 'resume': {
        // On a resumed leg: the other side has everything up to m.offset; send it the rest.
        this.#awaitingPeerResume = false;
        clearTimeout(this.#windowTimer);
        this.#windowTimer = undefined;
        // The rest goes out before a waiting writer is let go: releasing it first would let its
        // next chunk (written synchronously from the callback) overtake the bytes sent again.
        this.#trim(m.offset, false);
        if (this.destroyed) return;
        const rest = this.#out.rest();
        if (rest.length > 0) this.#send(rest);
        this.#release();
        if (this.#localEnded) this.#control({ type: 'end' });
        this.#acks.schedule(this.#consumed());
        this.#o.onEvent?.('resumed', `resumed: ${rest.length} byte(s) sent again`);
        this.#maybeFinish();
        return;
      }
    }
  }

  /** Both directions ended and everything of ours arrived: close the leg cleanly. */
  #maybeFinish(): void {
    if (this.#done || !this.#localEnded || !this.#peerEnded || this.#out.bytes > 0 || !this.#ready()) return;
    this.#finished();
    const ws = this.#ws;
    if (ws !== undefined) closeWithin(ws, 1000, '', 2000);
  }

  /** The stream is complete both ways: the Duplex closes once its reader has taken the rest. */
  #finished(): void {
    this.#done = true;
    this.closeCode = 1000;
    this.#acks.stop();
    clearTimeout(this.#windowTimer);
    const check = (): void => {
      if (this.readableEnded && this.writableFinished && !this.destroyed) this.destroy();
    };
    if (!this.readableEnded) this.once('end', check);
    if (!this.writableFinished) this.once('finish', check);
    check();
  }

  #onLegClose(code: number, reason: string): void {
    this.#ws = undefined;
    if (this.#done || this.destroyed) return;
    this.closeCode = code;
    this.closeReason = reason;
    if (this.#peer === 'v2' && RESUMABLE.has(code)) {
      void this.#resume(`${describeClose(code, reason)}`);
      return;
    }
    if (this.#awaitingPeerResume && code === CloseCode.HandshakeTimeout) {
      // A resumed leg the other side never joined: try again within the window.
      void this.#resume('the other side did not come back yet');
      return;
    }
    if (code === 1000 && this.#peer === 'v2') {
      // The other side finished: it had our end, so everything we sent before it. Anything else
      // is a side that closed without ending its direction: not a clean end of the stream.
      if (this.#localEnded && this.#peerEnded) {
        this.#out.clear();
        this.#finished();
        return;
      }
    } else if (code === 1000) {
      // v1: a close is the end of the stream both ways. What arrived before it is still read to
      // the end (destroying now would drop what the reader has not taken yet); anything written
      // from here on has nowhere to go and waits (closeOnceRead), as does a write already waiting:
      // its bytes did not all leave.
      this.#farClosed = true;
      this.#done = true;
      if (!this.readableEnded) this.push(null);
      closeOnceRead(this);
      return;
    }
    const err = new StreamClosedError(code, code === 1000 && reason === '' ? 'the other side closed before both directions ended' : reason);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(err);
    this.destroy(err);
  }

  async #resume(why: string): Promise<void> {
    if (this.#resuming) return;
    this.#resuming = true;
    this.#o.onEvent?.('interrupted', why);
    if (this.#windowTimer === undefined) {
      // The hub ends the stream when its window passes and tells a waiting leg; this is for when
      // the hub cannot be reached to say so.
      this.#windowTimer = setTimeout(() => {
        if (!this.destroyed) this.destroy(new StreamClosedError(CloseCode.ResumeTimeout, `not resumed within ${Math.round(this.#o.windowMs / 1000)} s`));
      }, this.#o.windowMs + WINDOW_GRACE_MS);
      this.#windowTimer.unref();
    }
    const r = await retryLeg({ reconnect: this.#o.reconnect, isFatal: this.#o.isFatal, stopped: () => this.destroyed });
    if ('leg' in r) {
      if (this.destroyed) {
        // Gave up meanwhile: a leg that meets the other side's tells it so (not a clean end).
        r.leg.resume();
        closeWithin(r.leg, CloseCode.Aborted, 'the other side gave the stream up', 2000);
        return;
      }
      this.#resuming = false;
      this.#attach(r.leg, true);
    } else if ('fatal' in r) {
      // The hub said the stream cannot come back: it knows, there is nothing to give up.
      this.#resuming = false;
      this.destroy(r.fatal);
    }
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.#acks.stop();
    this.#watch.stop();
    clearTimeout(this.#windowTimer);
    clearTimeout(this.#pairingTimer);
    const ws = this.#ws;
    const finished = this.#done;
    if (!finished && ws !== undefined && (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)) {
      // Destroyed before the stream was complete (on purpose, or our local connection failed): the
      // other side must not take it for a clean end, nor wait for a resume. v1 knows only 1000.
      if (this.#peer !== 'v2' && err === null) closeWithin(ws, 1000, '', 2000);
      else closeWithin(ws, CloseCode.Aborted, (err?.message ?? 'the other side closed the stream').slice(0, 120), 2000);
    }
    if (ws !== undefined) this.#legClosed = wsClosed(ws);
    const interrupted = this.#resuming || this.#awaitingPeerResume;
    const gaveUp = err instanceof StreamClosedError && err.closeCode === CloseCode.ResumeTimeout;
    if (!finished && interrupted && !gaveUp && this.#o.abandon !== undefined) {
      // No leg to tell the other side on: the hub ends the stream and tells it.
      const told = this.#o.abandon((err?.message ?? 'closed while interrupted').slice(0, 120)).catch(() => undefined);
      this.#legClosed = Promise.all([this.#legClosed, told]).then(() => undefined);
    }
    this.#done = true;
    callback(err);
  }
}
