/**
 * The terminal protocol, spoken end to end between the browser and the device's shell server
 * through a stream: frames of `[type u8][length u32 BE][payload]`. Browser-safe (Uint8Array and
 * DataView only). Both ends import this module; nothing re-declares a frame.
 *
 *   HELLO  browser → shell   version u8, cols u16, rows u16, term (UTF-8, rest of payload)
 *   DATA   both ways         raw terminal bytes (keystrokes in, PTY output out)
 *   RESIZE browser → shell   cols u16, rows u16
 *   EXIT   shell → browser   exit code i32; the connection closes after it
 *   PAUSE  browser → shell   stop reading the PTY (the browser has too much unwritten output)
 *   RESUME browser → shell   read the PTY again
 *   ACK    browser → shell   bytes u32 of DATA it has rendered since its last ACK. The first ACK
 *                            (0 is fine) turns on a window: the shell server then stops reading the
 *                            PTY while more than ACK_WINDOW_BYTES are sent but unacknowledged, so
 *                            the output in flight (socket buffers on every hop included) stays
 *                            small and a Ctrl-C shows at once. Clients that never ACK are held back
 *                            by PAUSE/RESUME and TCP only.
 */

export const TERMINAL_PROTOCOL_VERSION = 1;

export const FrameType = {
  Data: 0,
  Resize: 1,
  Exit: 2,
  Hello: 3,
  Pause: 4,
  Resume: 5,
  Ack: 6,
} as const;

/** Most DATA bytes a shell server sends ahead of a client's ACKs (once the client ACKs at all). */
export const ACK_WINDOW_BYTES = 1024 * 1024;
/** A client ACKs once it has rendered this much (well under the window, so output never stalls). */
export const ACK_EVERY_BYTES = 128 * 1024;

export type TerminalFrame =
  | { type: 'data'; data: Uint8Array }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'exit'; code: number }
  | { type: 'hello'; version: number; cols: number; rows: number; term: string }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'ack'; bytes: number };

/** Largest payload of one frame; DATA larger than this is split by `encodeData`. */
export const MAX_TERMINAL_PAYLOAD = 1024 * 1024;
const HEADER = 5;

/** A frame that cannot be decoded; the stream is closed with this message. */
export class TerminalProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TerminalProtocolError';
  }
}

function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, payload.length);
  out.set(payload, HEADER);
  return out;
}

function checkSize(cols: number, rows: number): void {
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 65535 || rows > 65535) {
    throw new TerminalProtocolError(`terminal size ${cols}x${rows} is out of range`);
  }
}

/** Encodes one frame. DATA payloads above MAX_TERMINAL_PAYLOAD must go through encodeData. */
export function encodeFrame(f: TerminalFrame): Uint8Array {
  switch (f.type) {
    case 'data':
      if (f.data.length > MAX_TERMINAL_PAYLOAD) throw new TerminalProtocolError('DATA payload too large; use encodeData');
      return frame(FrameType.Data, f.data);
    case 'resize': {
      checkSize(f.cols, f.rows);
      const p = new Uint8Array(4);
      const v = new DataView(p.buffer);
      v.setUint16(0, f.cols);
      v.setUint16(2, f.rows);
      return frame(FrameType.Resize, p);
    }
    case 'exit': {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setInt32(0, f.code);
      return frame(FrameType.Exit, p);
    }
    case 'hello': {
      checkSize(f.cols, f.rows);
      // At most 64 bytes of UTF-8, cut on a character boundary.
      let term = new TextEncoder().encode(f.term);
      if (term.length > 64) {
        let n = 64;
        while (n > 0 && ((term[n] ?? 0) & 0xc0) === 0x80) n--;
        term = term.subarray(0, n);
      }
      const p = new Uint8Array(5 + term.length);
      const v = new DataView(p.buffer);
      v.setUint8(0, f.version);
      v.setUint16(1, f.cols);
      v.setUint16(3, f.rows);
      p.set(term, 5);
      return frame(FrameType.Hello, p);
    }
    case 'pause':
      return frame(FrameType.Pause, new Uint8Array(0));
    case 'resume':
      return frame(FrameType.Resume, new Uint8Array(0));
    case 'ack': {
      if (!Number.isInteger(f.bytes) || f.bytes < 0 || f.bytes > 0xffffffff) throw new TerminalProtocolError(`ACK of ${f.bytes} bytes is out of range`);
      const p = new Uint8Array(4);
      new DataView(p.buffer).setUint32(0, f.bytes);
      return frame(FrameType.Ack, p);
    }
  }
}

/** Encodes terminal bytes as one or more DATA frames. */
export function encodeData(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += MAX_TERMINAL_PAYLOAD) {
    out.push(frame(FrameType.Data, data.subarray(off, off + MAX_TERMINAL_PAYLOAD)));
  }
  return out;
}

function decodePayload(type: number, p: Uint8Array): TerminalFrame {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  switch (type) {
    case FrameType.Data:
      return { type: 'data', data: p };
    case FrameType.Resize:
      if (p.length !== 4) throw new TerminalProtocolError('RESIZE payload must be 4 bytes');
      return { type: 'resize', cols: v.getUint16(0), rows: v.getUint16(2) };
    case FrameType.Exit:
      if (p.length !== 4) throw new TerminalProtocolError('EXIT payload must be 4 bytes');
      return { type: 'exit', code: v.getInt32(0) };
    case FrameType.Hello:
      if (p.length < 5 || p.length > 5 + 64) throw new TerminalProtocolError('HELLO payload must be 5 to 69 bytes');
      return { type: 'hello', version: v.getUint8(0), cols: v.getUint16(1), rows: v.getUint16(3), term: new TextDecoder().decode(p.subarray(5)) };
    case FrameType.Pause:
      if (p.length !== 0) throw new TerminalProtocolError('PAUSE has no payload');
      return { type: 'pause' };
    case FrameType.Resume:
      if (p.length !== 0) throw new TerminalProtocolError('RESUME has no payload');
      return { type: 'resume' };
    case FrameType.Ack:
      if (p.length !== 4) throw new TerminalProtocolError('ACK payload must be 4 bytes');
      return { type: 'ack', bytes: v.getUint32(0) };
    default:
      throw new TerminalProtocolError(`unknown frame type ${type}`);
  }
}

/**
 * Incremental decoder: feed it bytes as they arrive (split anywhere), get whole frames back.
 * Bounded: it never holds more than one frame's worth (header + MAX_TERMINAL_PAYLOAD).
 * Throws TerminalProtocolError on a malformed frame; the caller closes the stream.
 */
export class FrameDecoder {
  /** Received bytes not yet decoded, as they came (joined only once a whole frame is there). */
  #chunks: Uint8Array[] = [];
  #size = 0;

  push(chunk: Uint8Array): TerminalFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    const frames: TerminalFrame[] = [];
    for (;;) {
      if (this.#size < HEADER) break;
      const head = this.#peek(HEADER);
      const view = new DataView(head.buffer, head.byteOffset, HEADER);
      const type = view.getUint8(0);
      const len = view.getUint32(1);
      if (type > FrameType.Ack) throw new TerminalProtocolError(`unknown frame type ${type}`);
      if (len > MAX_TERMINAL_PAYLOAD) throw new TerminalProtocolError(`frame of ${len} bytes exceeds the ${MAX_TERMINAL_PAYLOAD}-byte limit`);
      if (this.#size < HEADER + len) break;
      const whole = this.#take(HEADER + len);
      // Payloads are copied out so the caller may keep them after the next push.
      frames.push(decodePayload(type, whole.slice(HEADER)));
    }
    return frames;
  }

  /** The first `n` buffered bytes (n ≤ size), joining chunks only as far as needed. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length >= n) return first;
    const joined = concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    const head = this.#peek(n);
    const out = head.subarray(0, n);
    if (head.length === n) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    this.#size -= n;
    return out;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#size;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
