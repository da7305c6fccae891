/**
 * One shell session: one TCP connection, one PTY, the terminal protocol between them.
 *
 * Flow control, output (PTY → client). The PTY is read only while nobody objects; two flags say
 * who objects and neither clears the other's:
 *   - pausedByClient: the client sent PAUSE (its terminal has too much unwritten output) until RESUME;
 *   - pausedBySocket: `socket.write` returned false (the kernel's send buffer and Node's
 *     writable buffer are full because the client reads slowly) until 'drain'.
 * A paused PTY is not read at all, so a flood backs up into the kernel's PTY buffer and then blocks
 * the writing program; this process holds at most one read (64 KiB) beyond the socket's high-water
 * mark.
 *
 * Flow control, input (client → PTY). node-pty buffers keystrokes the shell has not read yet; when
 * that buffer passes `inputHighWaterBytes` the session stops reading the TCP socket until it drains.
 * While input is blocked a client PAUSE is not honoured: the client's RESUME would sit behind the
 * keystrokes we stopped reading, and a program blocked on its output (because of the PAUSE) never
 * reads them, so client and server would wait on each other. Socket backpressure still bounds
 * memory meanwhile.
 */
import type { Socket } from 'node:net';
import {
  ACK_WINDOW_BYTES,
  FrameDecoder,
  TERMINAL_PROTOCOL_VERSION,
  TerminalProtocolError,
  encodeData,
  encodeFrame,
  type TerminalFrame,
} from '../../shared/terminal-protocol.js';
import { processRunning, ptyInputSocket, signalGroups, spawnPty, terminalProcessGroups, type BytePty } from './pty.js';
import { commandAs, userEnv, type ShellUser } from './run-as.js';

export interface SessionOptions {
  shell: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** TERM when the client's HELLO names none (or an unusable one). */
  defaultTerm: string;
  /** Close a connection that has not sent HELLO within this. */
  helloTimeoutMs: number;
  /** After SIGHUP, SIGKILL the terminal's process groups this much later. */
  killGraceMs: number;
  /** After EXIT, destroy a connection the client has not closed within this. */
  endTimeoutMs: number;
  /** Stop reading the client while this many keystroke bytes wait for the shell. */
  inputHighWaterBytes: number;
  /** Run shells as this account instead of the server's own (see run-as.ts). */
  user: ShellUser | undefined;
  log: (line: string) => void;
}

/** TERM is copied into the shell's environment: accept a terminfo-style name only. */
const TERM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

function sizeProblem(cols: number, rows: number): string | undefined {
  return cols >= 1 && rows >= 1 && cols <= 65535 && rows <= 65535 ? undefined : `terminal size ${cols}x${rows} is out of range`;
}

/** Output arriving within this long of earlier output is sent together (see #onPtyData). */
const COALESCE_MS = 4;
const COALESCE_BYTES = 64 * 1024;

export class ShellSession {
  /** Resolves once the connection is closed and the shell (if one started) has exited. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #o: SessionOptions;
  readonly #label: string;
  readonly #decoder = new FrameDecoder();
  readonly #timers = new Set<NodeJS.Timeout>();
  #resolveClosed: () => void = () => undefined;
  #pty: BytePty | undefined;
  #input: Socket | undefined;
  #shellExited = false;
  #socketClosed = false;
  #failed = false;
  #hungUp = false;
  #pausedByClient = false;
  #pausedBySocket = false;
  /** Set by the client's first ACK: from then on at most ackWindow DATA bytes go unacknowledged. */
  #ackMode = false;
  #unacked = 0;
  /** PTY output gathered for the next DATA frame (see #onPtyData). */
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #lastFlush = 0;
  #inputBlocked = false;
  #ptyPaused = false;
  /** While the PTY is held back: checks that the shell still runs (see #watchForExit). */
  #exitWatch: NodeJS.Timeout | undefined;
  #shellGone = false;

  constructor(socket: Socket, label: string, o: SessionOptions) {
    this.#socket = socket;
    this.#label = label;
    this.#o = o;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.setNoDelay(true);
    // Finds a client that vanished without closing (laptop lid, NAT timeout).
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onSocketData(chunk));
    socket.on('drain', () => {
      this.#pausedBySocket = false;
      this.#updateFlow();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') o.log(`${label}: ${err.message}`);
    });
    socket.on('close', () => this.#onSocketClose());
    this.#after(o.helloTimeoutMs, () => {
      if (this.#pty === undefined) this.#fail(`no HELLO within ${o.helloTimeoutMs} ms`);
    });
  }

  /** Server shutdown: hang up the shell (the client then gets EXIT), or drop a connection still waiting for HELLO. */
  terminate(): void {
    if (this.#pty !== undefined && !this.#shellExited) this.#hangUp();
    else this.#socket.destroy();
  }

  #onSocketData(chunk: Buffer): void {
    if (this.#failed || this.#shellExited) return;
    let frames: TerminalFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err instanceof TerminalProtocolError ? err.message : String(err));
      return;
    }
    for (const frame of frames) {
      if (this.#failed || this.#shellExited) return;
      this.#onFrame(frame);
    }
  }

  #onFrame(f: TerminalFrame): void {
    const pty = this.#pty;
    if (pty === undefined) {
      if (f.type === 'hello') this.#start(f);
      else this.#fail(`first frame was ${f.type.toUpperCase()}, expected HELLO`);
      return;
    }
    switch (f.type) {
      case 'data':
        this.#write(pty, f.data);
        return;
      case 'resize': {
        const problem = sizeProblem(f.cols, f.rows);
        if (problem !== undefined) {
          this.#fail(problem);
          return;
        }
        try {
          pty.resize(f.cols, f.rows);
        } catch {
          // The terminal closed under us (the shell is exiting); its exit is reported shortly.
        }
        return;
      }
      case 'pause':
      case 'resume':
        this.#pausedByClient = f.type === 'pause';
        this.#updateFlow();
        return;
      case 'ack':
        this.#ackMode = true;
        this.#unacked = Math.max(0, this.#unacked - f.bytes);
        this.#updateFlow();
        return;
      case 'hello':
      case 'exit':
        this.#fail(`unexpected ${f.type.toUpperCase()} frame from the client`);
        return;
    }
  }

  #start(hello: Extract<TerminalFrame, { type: 'hello' }>): void {
    if (hello.version !== TERMINAL_PROTOCOL_VERSION) {
      this.#fail(`unsupported protocol version ${hello.version} (this server speaks ${TERMINAL_PROTOCOL_VERSION})`);
      return;
    }
    const problem = sizeProblem(hello.cols, hello.rows);
    if (problem !== undefined) {
      this.#fail(problem);
      return;
    }
    const term = TERM_PATTERN.test(hello.term) ? hello.term : this.#o.defaultTerm;
    let pty: BytePty;
    try {
      const user = this.#o.user;
      const cmd = user === undefined || user.uid === process.getuid?.() ? { file: this.#o.shell, args: [...this.#o.args] } : commandAs(user, this.#o.shell, this.#o.args);
      const env = user === undefined ? this.#o.env : { ...this.#o.env, ...userEnv(user, this.#o.shell) };
      pty = spawnPty({ file: cmd.file, args: cmd.args, cwd: this.#o.cwd, env, term, cols: hello.cols, rows: hello.rows });
    } catch (err) {
      this.#fail(`cannot start ${this.#o.shell}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.#pty = pty;
    this.#o.log(`${this.#label}: started ${this.#o.shell}${this.#o.user === undefined ? '' : ` as ${this.#o.user.name}`} pid ${pty.pid} (${hello.cols}x${hello.rows}, ${term})`);
    pty.onData((data) => this.#onPtyData(data));
    pty.onExit(({ exitCode, signal }) => this.#onShellExit(signal !== undefined && signal > 0 ? 128 + signal : exitCode));
    this.#input = ptyInputSocket(pty);
    this.#input?.on('drain', () => {
      if (!this.#inputBlocked) return;
      this.#inputBlocked = false;
      if (!this.#shellExited) this.#socket.resume();
      this.#updateFlow();
    });
  }

  #write(pty: BytePty, data: Uint8Array): void {
    pty.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (this.#input !== undefined && this.#input.writableLength > this.#o.inputHighWaterBytes && !this.#inputBlocked) {
      this.#inputBlocked = true;
      this.#socket.pause();
      this.#updateFlow();
    }
  }

  /**
   * A PTY hands over at most a few KiB per read. Sent one by one, a flood becomes tens of
   * thousands of tiny frames a second through every hop up to the browser; so output that follows
   * other output within COALESCE_MS is gathered into one DATA frame (up to COALESCE_BYTES). Output
   * after a quiet spell (an echoed keystroke) goes out at once.
   */
  #onPtyData(data: Buffer): void {
    // After the client is gone the PTY is drained into nothing so node-pty sees it close.
    if (this.#socketClosed || this.#failed) return;
    this.#out.push(data);
    this.#outBytes += data.length;
    if (this.#ackMode) this.#unacked += data.length;
    const quiet = this.#outBytes === data.length && performance.now() - this.#lastFlush > COALESCE_MS;
    if (quiet || this.#outBytes >= COALESCE_BYTES) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), COALESCE_MS);
    if (this.#ackMode) this.#updateFlow();
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#outBytes === 0) return;
    const data = this.#out.length === 1 ? (this.#out[0] as Buffer) : Buffer.concat(this.#out, this.#outBytes);
    this.#out = [];
    this.#outBytes = 0;
    this.#lastFlush = performance.now();
    if (this.#socketClosed || this.#failed) return;
    let ok = true;
    for (const frame of encodeData(data)) ok = this.#socket.write(frame);
    if (!ok && !this.#pausedBySocket) {
      this.#pausedBySocket = true;
      this.#updateFlow();
    }
  }

  /** Reads the PTY exactly when neither the client nor the socket holds it back. */
  #updateFlow(): void {
    const pty = this.#pty;
    if (pty === undefined || this.#shellExited) return;
    const byWindow = this.#ackMode && this.#unacked >= ACK_WINDOW_BYTES;
    const paused = !this.#socketClosed && !this.#shellGone && (this.#pausedBySocket || ((this.#pausedByClient || byWindow) && !this.#inputBlocked));
    if (paused === this.#ptyPaused) return;
    this.#ptyPaused = paused;
    if (paused) {
      pty.pause();
      this.#watchForExit(pty);
    } else {
      this.#stopExitWatch();
      // What the PTY has after a flow-control pause is the rest of a flood, not a quiet keystroke
      // echo: gather it like any flood output (else every resume sends a lone few-KiB frame).
      this.#lastFlush = performance.now();
      pty.resume();
    }
  }

  /**
   * node-pty ends a terminal 200 ms after its shell exits whether or not the output was read, so a
   * shell that exits while a slow client holds the PTY back would lose its last output. While held
   * back, the shell is checked every 50 ms; once it is gone the PTY is read regardless of flow
   * control (what is left is what the kernel buffered, plus at most those 200 ms of any job the
   * shell left behind).
   */
  #watchForExit(pty: BytePty): void {
    this.#exitWatch ??= setInterval(() => {
      if (processRunning(pty.pid)) return;
      this.#shellGone = true;
      this.#stopExitWatch();
      this.#updateFlow();
    }, 50);
  }

  #stopExitWatch(): void {
    clearInterval(this.#exitWatch);
    this.#exitWatch = undefined;
  }

  #onShellExit(code: number): void {
    this.#stopExitWatch();
    this.#flush();
    this.#shellExited = true;
    this.#o.log(`${this.#label}: shell pid ${this.#pty?.pid ?? '?'} exited with code ${code}`);
    if (!this.#socketClosed && !this.#failed) {
      this.#socket.write(encodeFrame({ type: 'exit', code }));
      this.#socket.end();
      // Keep reading so the client's FIN is seen; anything else it sends is ignored now.
      this.#socket.resume();
      this.#after(this.#o.endTimeoutMs, () => this.#socket.destroy());
    }
    this.#settle();
  }

  #onSocketClose(): void {
    this.#socketClosed = true;
    if (this.#pty !== undefined && !this.#shellExited) {
      if (!this.#failed) this.#o.log(`${this.#label}: connection closed; hanging up shell pid ${this.#pty.pid}`);
      this.#hangUp();
    }
    this.#updateFlow();
    this.#settle();
  }

  /** SIGHUP to the terminal's process groups now, SIGKILL after the grace period. */
  #hangUp(): void {
    const pty = this.#pty;
    if (pty === undefined || this.#hungUp) return;
    this.#hungUp = true;
    const groups = terminalProcessGroups(pty.pid);
    signalGroups(groups, 'SIGHUP');
    const timer = setTimeout(() => signalGroups(groups, 'SIGKILL'), this.#o.killGraceMs);
    // Not in #timers: it must outlive the session to catch a foreground job that ignores SIGHUP.
    timer.unref();
  }

  /** Closes the connection without another byte; the reason goes to the log. */
  #fail(reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.log(`${this.#label}: closing connection: ${reason}`);
    this.#socket.destroy();
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #settle(): void {
    if (!this.#socketClosed || (this.#pty !== undefined && !this.#shellExited)) return;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    clearTimeout(this.#flushTimer);
    this.#stopExitWatch();
    this.#resolveClosed();
  }
}
