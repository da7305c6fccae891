/**
 * One client connection to the shell server: its socket, the frame decoder, and output going to
 * it. The connection waits for HELLO, hands it to the server (which starts a session, attaches it to
 * one, or refuses it), and from then on passes the client's frames to its session and the session's
 * output to the client. A resumable session outlives its connections; a connection ends when its
 * socket does.
 *
 * Output flow control (see session.ts for who reads the PTY): the connection tells its session to
 * stop reading the PTY while
 *   - pausedByClient: the client sent PAUSE (its terminal has too much unwritten output) until RESUME;
 *   - pausedBySocket: `socket.write` returned false (the client reads slowly) until 'drain';
 *   - the ACK window is full: once the client ACKs at all, at most ACK_WINDOW_BYTES of DATA sent on
 *     this connection (a replay included) go unacknowledged.
 * A PTY read is often a few bytes; output that follows other output within COALESCE_MS is gathered
 * into one DATA frame (up to COALESCE_BYTES), and output after a quiet spell goes out at once.
 */
import type { Socket } from 'node:net';
import {
  ACK_WINDOW_BYTES,
  FrameDecoder,
  TerminalProtocolError,
  encodeData,
  encodeFrame,
  type TerminalFrame,
} from '../../shared/terminal-protocol.js';
import type { ShellSession } from './session.js';

/** Output arriving within this long of earlier output is sent together (see the module comment). */
const COALESCE_MS = 4;
const COALESCE_BYTES = 64 * 1024;

export interface ConnectionOptions {
  /** Close a connection that has not sent HELLO within this. */
  helloTimeoutMs: number;
  /** After EXIT or CLOSE, destroy a connection the client has not closed within this. */
  endTimeoutMs: number;
  log: (line: string) => void;
  /** Answers HELLO: start or attach a session (calling `attachTo`), or `refuse`. */
  onHello: (conn: ClientConnection, hello: Extract<TerminalFrame, { type: 'hello' }>) => void;
}

export class ClientConnection {
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;
  readonly label: string;
  readonly #socket: Socket;
  readonly #o: ConnectionOptions;
  readonly #decoder = new FrameDecoder();
  readonly #timers = new Set<NodeJS.Timeout>();
  #session: ShellSession | undefined;
  /** hello: waiting for HELLO; open: a session's connection; done: refused, let go or finished. */
  #state: 'hello' | 'open' | 'done' = 'hello';
  #socketClosed = false;
  #failed = false;
  pausedByClient = false;
  pausedBySocket = false;
  /** Set by the client's first ACK: from then on at most the window goes unacknowledged. */
  #ackMode = false;
  /** DATA bytes sent on this connection and not acknowledged (the client counts from its first DATA too). */
  #unacked = 0;
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #lastFlush = 0;

  constructor(socket: Socket, label: string, o: ConnectionOptions) {
    this.#socket = socket;
    this.label = label;
    this.#o = o;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    // Finds a client that vanished without closing (laptop lid, NAT timeout).
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onSocketData(chunk));
    socket.on('drain', () => {
      this.pausedBySocket = false;
      this.#session?.updateFlow();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') o.log(`${label}: ${err.message}`);
    });
    socket.on('close', () => this.#onSocketClose());
    this.#after(o.helloTimeoutMs, () => {
      if (this.#state === 'hello') this.fail(`no HELLO within ${o.helloTimeoutMs} ms`);
    });
  }

  /** Still waiting for HELLO. */
  get waiting(): boolean {
    return this.#state === 'hello' && !this.#socketClosed;
  }

  /** The session this connection is attached to, if any. */
  get session(): ShellSession | undefined {
    return this.#session;
  }

  /** Whether the session should stop reading the PTY for this connection's sake. */
  holdsBack(inputBlocked: boolean): boolean {
    if (this.#state !== 'open' || this.#socketClosed) return false;
    const byWindow = this.#ackMode && this.#unacked >= ACK_WINDOW_BYTES;
    // While input is blocked a client's PAUSE is not honoured: its RESUME would wait behind the
    // keystrokes we stopped reading, and a program blocked on output never reads them (deadlock).
    return this.pausedBySocket || ((this.pausedByClient || byWindow) && !inputBlocked);
  }

  /** Called by the session that takes this connection (a new session, or an attach). */
  attachTo(session: ShellSession): void {
    this.#session = session;
    this.#state = 'open';
  }

  /** Sends a frame (SESSION, ATTACHED) at once, ahead of any output still gathering. */
  sendFrame(f: TerminalFrame): void {
    if (!this.#socketClosed && !this.#failed) this.#socket.write(encodeFrame(f));
  }

  /** Sends replayed output at once (it counts towards the ACK window like any output). */
  replay(chunks: readonly Buffer[]): void {
    for (const c of chunks) {
      this.#unacked += c.length;
      this.#send(c);
    }
  }

  /** Live PTY output for the client; gathered for up to COALESCE_MS. */
  output(data: Buffer): void {
    if (this.#state !== 'open' || this.#socketClosed || this.#failed) return;
    this.#out.push(data);
    this.#outBytes += data.length;
    // Counted when taken, not when sent: the window then also covers output still gathering.
    this.#unacked += data.length;
    const quiet = this.#outBytes === data.length && performance.now() - this.#lastFlush > COALESCE_MS;
    if (quiet || this.#outBytes >= COALESCE_BYTES) this.flush();
    else this.#flushTimer ??= setTimeout(() => this.flush(), COALESCE_MS);
    if (this.#ackMode) this.#session?.updateFlow();
  }

  /** Sends the output gathered so far. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#outBytes === 0) return;
    const data = this.#out.length === 1 ? (this.#out[0] as Buffer) : Buffer.concat(this.#out, this.#outBytes);
    this.#out = [];
    this.#outBytes = 0;
    this.#lastFlush = performance.now();
    this.#send(data);
  }

  #send(data: Buffer): void {
    if (this.#socketClosed || this.#failed || data.length === 0) return;
    let ok = true;
    for (const frame of encodeData(data)) ok = this.#socket.write(frame);
    if (!ok && !this.pausedBySocket) {
      this.pausedBySocket = true;
      this.#session?.updateFlow();
    }
  }

  /**
   * What the PTY has after a flow-control pause is the rest of a flood, not a quiet keystroke
   * echo: it is gathered like any flood output (else every resume would send a lone small frame).
   */
  resumedAfterPause(): void {
    this.#lastFlush = performance.now();
  }

  /** Stops reading the client (the shell's input is backed up); `resumeReading` undoes it. */
  pauseReading(): void {
    this.#socket.pause();
  }

  resumeReading(): void {
    if (this.#state === 'open') this.#socket.resume();
  }

  /** The shell exited: the rest of its output, EXIT, then the connection ends. */
  finish(code: number): void {
    this.flush();
    this.#end(encodeFrame({ type: 'exit', code }));
  }

  /** Refuses HELLO, or lets an attached connection go (taken over, ended): CLOSE, then the end. */
  close(code: number, message: string): void {
    this.#o.log(`${this.label}: ${message}`);
    // Output still gathering is in the session's ring: whoever attaches next gets it.
    clearTimeout(this.#flushTimer);
    this.#out = [];
    this.#outBytes = 0;
    this.#end(encodeFrame({ type: 'close', code, message }));
  }

  #end(last: Uint8Array): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#session = undefined;
    if (this.#socketClosed || this.#failed) return;
    this.#socket.write(last);
    this.#socket.end();
    // Keep reading so the client's FIN is seen; anything else it sends is ignored now.
    this.#socket.resume();
    this.#after(this.#o.endTimeoutMs, () => this.#socket.destroy());
  }

  /** Closes the connection without another byte; the reason goes to the log. */
  fail(reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.log(`${this.label}: closing connection: ${reason}`);
    this.#socket.destroy();
  }

  /** Drops the connection (server shutdown of a connection that has no session). */
  destroy(): void {
    this.#socket.destroy();
  }

  /** Nothing the client sends matters any more. */
  #over(): boolean {
    return this.#failed || this.#state === 'done';
  }

  #onSocketData(chunk: Buffer): void {
    if (this.#over()) return;
    let frames: TerminalFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof TerminalProtocolError ? err.message : String(err));
      return;
    }
    for (const frame of frames) {
      if (this.#over()) return;
      this.#onFrame(frame);
    }
  }

  #onFrame(f: TerminalFrame): void {
    if (this.#state === 'hello') {
      if (f.type === 'hello') this.#o.onHello(this, f);
      else this.fail(`first frame was ${f.type.toUpperCase()}, expected HELLO`);
      return;
    }
    const session = this.#session;
    if (session === undefined) return;
    switch (f.type) {
      case 'data':
        session.input(this, f.data);
        return;
      case 'resize':
        if (f.cols < 1 || f.rows < 1) {
          this.fail(`terminal size ${f.cols}x${f.rows} is out of range`);
          return;
        }
        session.resize(f.cols, f.rows);
        return;
      case 'pause':
      case 'resume':
        this.pausedByClient = f.type === 'pause';
        session.updateFlow();
        return;
      case 'ack':
        this.#ackMode = true;
        this.#unacked = Math.max(0, this.#unacked - f.bytes);
        session.updateFlow();
        return;
      default:
        this.fail(`unexpected ${f.type.toUpperCase()} frame from the client`);
    }
  }

  #onSocketClose(): void {
    this.#socketClosed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    clearTimeout(this.#flushTimer);
    const session = this.#session;
    this.#session = undefined;
    session?.detach(this, this.#failed);
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }
}
