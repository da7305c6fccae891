/**
 * The terminal protocol, spoken end to end between the browser and the device's shell server
 * through a stream: frames of `[type u8][length u32 BE][payload]`. Browser-safe (Uint8Array and
 * DataView only). Both ends import this module; nothing re-declares a frame.
 *
 *   HELLO    browser → shell   version u8, cols u16, rows u16, then by version:
 *                              1: term (UTF-8, rest of payload)
 *                              2: term length u8, term, mode u8 (0 new, 1 attach, 2 end), and for
 *                                 attach/end: session id (16 bytes), secret length u8 (0 or 32),
 *                                 secret; for attach: output offset u64, input offset u64
 *   DATA     both ways         raw terminal bytes (keystrokes in, PTY output out)
 *   RESIZE   browser → shell   cols u16, rows u16
 *   EXIT     shell → browser   exit code i32; the connection closes after it
 *   PAUSE    browser → shell   stop reading the PTY (the browser has too much unwritten output)
 *   RESUME   browser → shell   read the PTY again
 *   ACK      browser → shell   bytes u32 of DATA it has rendered since its last ACK. The first ACK
 *                              (0 is fine) turns on a window: the shell server then stops reading the
 *                              PTY while more than ACK_WINDOW_BYTES are sent but unacknowledged, so
 *                              the output in flight (socket buffers on every hop included) stays
 *                              small and a Ctrl-C shows at once. Clients that never ACK are held back
 *                              by PAUSE/RESUME and TCP only.
 *   SESSION  shell → browser   (version 2) session id (16 bytes), detach timeout u32 seconds, secret
 *                              length u8 (0 or 32), secret: the session can be reattached
 *   ATTACHED shell → browser   (version 2) input received u64, output offset u64, detach timeout
 *                              u32 seconds: the answer to an attach HELLO
 *   CLOSE    shell → browser   (version 2) code u8, message (UTF-8): why the session is refused or
 *                              this connection is let go; the connection closes after it
 *
 * Version 1 is a plain session: it ends when its connection drops. A version-2 HELLO asks for a
 * session that outlives its connection. The shell server answers a new one with SESSION (before any
 * DATA) and keeps the shell running for the detach timeout when the connection drops, with its
 * recent output. A client comes back with an attach HELLO naming the session id and secret, how much
 * output it has (output offset: DATA bytes received over every connection of the session) and how
 * much input it sent (input offset). The server answers ATTACHED with how much input it received
 * (the client sends the rest again, so no keystroke is written twice) and where its replay starts
 * (from the client's offset if it still has that output; later means a gap of the difference), then
 * the replay as DATA. A session has one connection at a time: a second attach takes it over and the
 * first gets CLOSE (taken over). Servers with no detach timeout answer a version-2 HELLO with a
 * plain session (no SESSION frame).
 */

import { PayloadReader, PayloadWriter, TerminalProtocolError, utf8Within } from './terminal-payload.js';

export { TerminalProtocolError } from './terminal-payload.js';

/** Version 1: a plain session that ends when its connection drops. */
export const TERMINAL_PROTOCOL_VERSION = 1;
/** Version 2: a session that outlives its connection for the detach timeout (see above). */
export const TERMINAL_RESUMABLE_VERSION = 2;

export const FrameType = {
  Data: 0,
  Resize: 1,
  Exit: 2,
  Hello: 3,
  Pause: 4,
  Resume: 5,
  Ack: 6,
  Session: 7,
  Attached: 8,
  Close: 9,
} as const;

/** Why a shell server refuses an attach or lets a connection go (the CLOSE frame's code). */
export const SessionCloseCode = {
  /** No such session here: it never existed, or it ended long enough ago to be forgotten. */
  Unknown: 1,
  /** It was left detached past its detach timeout and its shell was hung up. */
  Expired: 2,
  /** The secret does not match the session's. */
  BadSecret: 3,
  /** Another connection attached to the session; this one is let go. */
  TakenOver: 4,
  /** Ended on request (an admin, or its owner from another tab). */
  Ended: 5,
  /** Its shell exited, and its last output went to an earlier connection. */
  Exited: 6,
  /** The shell server has no room for another session. */
  Full: 7,
} as const;

export type SessionCloseCodeValue = (typeof SessionCloseCode)[keyof typeof SessionCloseCode];

/** Length of a session id on the wire (shown as 32 hex digits). */
export const SESSION_ID_BYTES = 16;
/** Length of a session secret. */
export const SESSION_SECRET_BYTES = 32;
/** Session ids as the protocol's users see them. */
export const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Longest CLOSE message (UTF-8 bytes); longer ones are cut. */
const MAX_CLOSE_MESSAGE = 256;

/** What a version-2 HELLO asks for. */
export type HelloSession =
  /** A new session. */
  | { mode: 'new' }
  /** Back to an existing session: replay output from `outputOffset`; `inputOffset` bytes of input were sent so far. */
  | { mode: 'attach'; sessionId: string; secret: Uint8Array; outputOffset: number; inputOffset: number }
  /** End the session (hang up its shell) without attaching. */
  | { mode: 'end'; sessionId: string; secret: Uint8Array };

/** Most DATA bytes a shell server sends ahead of a client's ACKs (once the client ACKs at all). */
export const ACK_WINDOW_BYTES = 1024 * 1024;
/** A client ACKs once it has rendered this much (well under the window, so output never stalls). */
export const ACK_EVERY_BYTES = 128 * 1024;

export type TerminalFrame =
  | { type: 'data'; data: Uint8Array }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'exit'; code: number }
  /** `session` is there exactly when version ≥ 2. */
  | { type: 'hello'; version: number; cols: number; rows: number; term: string; session?: HelloSession }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'ack'; bytes: number }
  /** A new resumable session: its id, its secret (empty once a console has taken it out), its detach timeout. */
  | { type: 'session'; sessionId: string; secret: Uint8Array; detachTimeoutSeconds: number }
  /** Reattached: the input the server has received, where its replay starts, its detach timeout. */
  | { type: 'attached'; inputReceived: number; outputOffset: number; detachTimeoutSeconds: number }
  /** Refused, or let go; the connection closes after it. */
  | { type: 'close'; code: number; message: string };

/** Largest payload of one frame; DATA larger than this is split by `encodeData`. */
export const MAX_TERMINAL_PAYLOAD = 1024 * 1024;
const HEADER = 5;

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

function sessionIdBytes(id: string): Uint8Array {
  if (!SESSION_ID_PATTERN.test(id)) throw new TerminalProtocolError('a session id is 32 lowercase hex digits');
  const out = new Uint8Array(SESSION_ID_BYTES);
  for (let i = 0; i < SESSION_ID_BYTES; i++) out[i] = parseInt(id.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function sessionIdText(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function checkSecret(secret: Uint8Array): Uint8Array {
  if (secret.length !== 0 && secret.length !== SESSION_SECRET_BYTES) throw new TerminalProtocolError(`a session secret is ${SESSION_SECRET_BYTES} bytes (or none)`);
  return secret;
}

function readSecret(r: PayloadReader): Uint8Array {
  const n = r.u8();
  if (n !== 0 && n !== SESSION_SECRET_BYTES) throw new TerminalProtocolError(`a session secret is ${SESSION_SECRET_BYTES} bytes (or none), not ${n}`);
  return r.bytes(n);
}

const HELLO_MODES = ['new', 'attach', 'end'] as const;

function encodeHello(f: Extract<TerminalFrame, { type: 'hello' }>): Uint8Array {
  checkSize(f.cols, f.rows);
  // At most 64 bytes of UTF-8, cut on a character boundary.
  const term = utf8Within(f.term, 64);
  const w = new PayloadWriter().u8(f.version).u16(f.cols).u16(f.rows);
  if (f.version < TERMINAL_RESUMABLE_VERSION) return w.bytes(term).done();
  const s = f.session ?? { mode: 'new' };
  w.u8(term.length).bytes(term).u8(HELLO_MODES.indexOf(s.mode));
  if (s.mode === 'new') return w.done();
  w.bytes(sessionIdBytes(s.sessionId)).u8(checkSecret(s.secret).length).bytes(s.secret);
  if (s.mode === 'attach') w.u64(s.outputOffset, 'output offset').u64(s.inputOffset, 'input offset');
  return w.done();
}

function decodeHello(p: Uint8Array): Extract<TerminalFrame, { type: 'hello' }> {
  const r = new PayloadReader(p, 'HELLO');
  const version = r.u8();
  if (version < TERMINAL_RESUMABLE_VERSION) {
    if (p.length < 5 || p.length > 5 + 64) throw new TerminalProtocolError('HELLO payload must be 5 to 69 bytes');
    const cols = r.u16();
    const rows = r.u16();
    return { type: 'hello', version, cols, rows, term: new TextDecoder().decode(r.bytes(r.left)) };
  }
  const cols = r.u16();
  const rows = r.u16();
  const termLength = r.u8();
  if (termLength > 64) throw new TerminalProtocolError('HELLO term must be at most 64 bytes');
  const term = new TextDecoder().decode(r.bytes(termLength));
  const mode = HELLO_MODES[r.u8()];
  if (mode === undefined) throw new TerminalProtocolError('HELLO mode must be 0 (new), 1 (attach) or 2 (end)');
  let session: HelloSession;
  if (mode === 'new') {
    session = { mode };
  } else {
    const sessionId = sessionIdText(r.bytes(SESSION_ID_BYTES));
    const secret = readSecret(r);
    session = mode === 'end' ? { mode, sessionId, secret } : { mode, sessionId, secret, outputOffset: r.u64(), inputOffset: r.u64() };
  }
  // Later versions may append fields; version 2 has exactly these.
  if (version === TERMINAL_RESUMABLE_VERSION) r.end();
  return { type: 'hello', version, cols, rows, term, session };
}

/** Encodes one frame. DATA payloads above MAX_TERMINAL_PAYLOAD must go through encodeData. */
export function encodeFrame(f: TerminalFrame): Uint8Array {
  switch (f.type) {
    case 'data':
      if (f.data.length > MAX_TERMINAL_PAYLOAD) throw new TerminalProtocolError('DATA payload too large; use encodeData');
      return frame(FrameType.Data, f.data);
    case 'resize':
      checkSize(f.cols, f.rows);
      return frame(FrameType.Resize, new PayloadWriter().u16(f.cols).u16(f.rows).done());
    case 'exit': {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setInt32(0, f.code);
      return frame(FrameType.Exit, p);
    }
    case 'hello':
      return frame(FrameType.Hello, encodeHello(f));
    case 'pause':
      return frame(FrameType.Pause, new Uint8Array(0));
    case 'resume':
      return frame(FrameType.Resume, new Uint8Array(0));
    case 'ack':
      if (!Number.isInteger(f.bytes) || f.bytes < 0 || f.bytes > 0xffffffff) throw new TerminalProtocolError(`ACK of ${f.bytes} bytes is out of range`);
      return frame(FrameType.Ack, new PayloadWriter().u32(f.bytes).done());
    case 'session':
      if (!Number.isInteger(f.detachTimeoutSeconds) || f.detachTimeoutSeconds < 0 || f.detachTimeoutSeconds > 0xffffffff) throw new TerminalProtocolError('detach timeout out of range');
      return frame(FrameType.Session, new PayloadWriter().bytes(sessionIdBytes(f.sessionId)).u32(f.detachTimeoutSeconds).u8(checkSecret(f.secret).length).bytes(f.secret).done());
    case 'attached':
      if (!Number.isInteger(f.detachTimeoutSeconds) || f.detachTimeoutSeconds < 0 || f.detachTimeoutSeconds > 0xffffffff) throw new TerminalProtocolError('detach timeout out of range');
      return frame(FrameType.Attached, new PayloadWriter().u64(f.inputReceived, 'input offset').u64(f.outputOffset, 'output offset').u32(f.detachTimeoutSeconds).done());
    case 'close':
      if (!Number.isInteger(f.code) || f.code < 1 || f.code > 255) throw new TerminalProtocolError(`CLOSE code ${f.code} is out of range`);
      return frame(FrameType.Close, new PayloadWriter().u8(f.code).bytes(utf8Within(f.message, MAX_CLOSE_MESSAGE)).done());
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
      if (p.length < 5) throw new TerminalProtocolError('HELLO payload must be 5 to 69 bytes');
      return decodeHello(p);
    case FrameType.Pause:
      if (p.length !== 0) throw new TerminalProtocolError('PAUSE has no payload');
      return { type: 'pause' };
    case FrameType.Resume:
      if (p.length !== 0) throw new TerminalProtocolError('RESUME has no payload');
      return { type: 'resume' };
    case FrameType.Ack:
      if (p.length !== 4) throw new TerminalProtocolError('ACK payload must be 4 bytes');
      return { type: 'ack', bytes: v.getUint32(0) };
    case FrameType.Session: {
      const r = new PayloadReader(p, 'SESSION');
      const sessionId = sessionIdText(r.bytes(SESSION_ID_BYTES));
      const detachTimeoutSeconds = r.u32();
      const secret = readSecret(r);
      r.end();
      return { type: 'session', sessionId, secret, detachTimeoutSeconds };
    }
    case FrameType.Attached: {
      const r = new PayloadReader(p, 'ATTACHED');
      const f = { type: 'attached' as const, inputReceived: r.u64(), outputOffset: r.u64(), detachTimeoutSeconds: r.u32() };
      r.end();
      return f;
    }
    case FrameType.Close: {
      if (p.length < 1 || p.length > 1 + MAX_CLOSE_MESSAGE) throw new TerminalProtocolError(`CLOSE payload must be 1 to ${1 + MAX_CLOSE_MESSAGE} bytes`);
      const code = v.getUint8(0);
      if (code === 0) throw new TerminalProtocolError('CLOSE code 0 is not a code');
      return { type: 'close', code, message: new TextDecoder().decode(p.subarray(1)) };
    }
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
      if (type > FrameType.Close) throw new TerminalProtocolError(`unknown frame type ${type}`);
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
