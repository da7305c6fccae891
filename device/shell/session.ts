/**
 * One shell session: a shell on its own PTY, and the client connection attached to it (at most
 * one at a time). A plain session (protocol version 1) ends with its connection: the shell is hung
 * up. A resumable one (version 2) keeps its shell when the connection drops, for the detach timeout,
 * still reading its output into a bounded ring (output-ring.ts); a client that comes back with the
 * session's secret gets the output it missed and takes up where it left off. Past the timeout the
 * shell is hung up.
 *
 * Offsets make a reattach exact: output is counted in bytes since the session started (the client
 * says how much it has, the replay starts there, or later when the ring no longer holds it: a gap),
 * and so is input written to the PTY (the client learns how much arrived and sends only the rest, so
 * a keystroke is never written twice).
 *
 * Output flow control: the PTY is read exactly when the attached connection does not object (see
 * connection.ts). A paused PTY is not read at all, so a flood backs up into the kernel's PTY buffer
 * and then blocks the writing program. While detached nobody objects: output goes to the ring,
 * whose oldest bytes fall off.
 *
 * Input flow control: node-pty buffers keystrokes the shell has not read yet; when that buffer
 * passes `inputHighWaterBytes` the session stops reading the client's socket until it drains.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { SESSION_ID_BYTES, SESSION_SECRET_BYTES, SessionCloseCode, type SessionCloseCodeValue } from '../../shared/terminal-protocol.js';
import type { ClientConnection } from './connection.js';
import { OutputRing } from './output-ring.js';
import { processRunning, ptyInputSocket, signalGroups, spawnPty, terminalProcessGroups, type BytePty } from './pty.js';
import { commandAs, userEnv, type ShellUser } from './run-as.js';

export interface SessionOptions {
  shell: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** After SIGHUP, SIGKILL the terminal's process groups this much later. */
  killGraceMs: number;
  /** Stop reading the client while this many keystroke bytes wait for the shell. */
  inputHighWaterBytes: number;
  /** How long a resumable session keeps its shell without a connection. */
  detachTimeoutMs: number;
  /** Recent output a resumable session keeps for a replay. */
  replayBufferBytes: number;
  /** Run shells as this account instead of the server's own (see run-as.ts). */
  user: ShellUser | undefined;
  log: (line: string) => void;
}

/** Why a session ended, for a client that comes back to it later (the CLOSE frame it then gets). */
export interface SessionEnd {
  code: SessionCloseCodeValue;
  message: string;
}

/** The terminal a session starts with. */
export interface PtySpec {
  term: string;
  cols: number;
  rows: number;
}

export class ShellSession {
  /** Resumable sessions only: the id clients name to reattach. */
  readonly id: string | undefined;
  readonly label: string;
  /** Resolves once the shell has exited and no connection is attached any more. */
  readonly closed: Promise<void>;
  readonly #secret: Buffer | undefined;
  readonly #o: SessionOptions;
  readonly #ring: OutputRing | undefined;
  readonly #onEnd: (end: SessionEnd) => void;
  #resolveClosed: () => void = () => undefined;
  #pty: BytePty | undefined;
  #input: Socket | undefined;
  #conn: ClientConnection | undefined;
  #inputReceived = 0;
  #inputBlocked = false;
  #ptyPaused = false;
  #exitWatch: NodeJS.Timeout | undefined;
  #shellGone = false;
  #exitCode: number | undefined;
  #hungUp = false;
  #detachTimer: NodeJS.Timeout | undefined;
  /** When the last connection left (resumable sessions without a connection). */
  detachedAt: number | undefined;
  /** Set when the session is being ended on purpose: what a later client is told. */
  #ending: SessionEnd | undefined;
  #ended = false;

  constructor(label: string, resumable: boolean, o: SessionOptions, onEnd: (end: SessionEnd) => void) {
    this.#o = o;
    this.#onEnd = onEnd;
    if (resumable) {
      this.id = randomBytes(SESSION_ID_BYTES).toString('hex');
      this.#secret = randomBytes(SESSION_SECRET_BYTES);
      this.#ring = new OutputRing(o.replayBufferBytes);
      this.label = `${label} [${this.id.slice(0, 8)}]`;
    } else {
      this.label = label;
    }
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The shell's pid once started. */
  get pid(): number | undefined {
    return this.#pty?.pid;
  }

  /** Being ended on purpose (its shell hung up); it no longer counts towards the server's limit. */
  get ending(): boolean {
    return this.#ending !== undefined || this.#ended;
  }

  /** Why it is ending or ended, once it is. */
  get endReason(): SessionEnd | undefined {
    return this.#ending;
  }

  /** Whether a connection is attached. */
  get attached(): boolean {
    return this.#conn !== undefined;
  }

  /** The session's secret (sent once, in SESSION). */
  get secret(): Uint8Array {
    return this.#secret ?? new Uint8Array(0);
  }

  /** Constant-time check of a secret a client presents. */
  secretMatches(secret: Uint8Array): boolean {
    if (this.#secret === undefined || secret.length !== this.#secret.length) return false;
    return timingSafeEqual(this.#secret, secret);
  }

  /** Starts the shell on a PTY of `spec` with `conn` attached; throws when it cannot be started. */
  start(conn: ClientConnection, spec: PtySpec): void {
    const o = this.#o;
    const user = o.user;
    const cmd = user === undefined || user.uid === process.getuid?.() ? { file: o.shell, args: [...o.args] } : commandAs(user, o.shell, o.args);
    const env = user === undefined ? o.env : { ...o.env, ...userEnv(user, o.shell) };
    const pty = spawnPty({ file: cmd.file, args: cmd.args, cwd: o.cwd, env, term: spec.term, cols: spec.cols, rows: spec.rows });
    this.#pty = pty;
    o.log(`${this.label}: started ${o.shell}${user === undefined ? '' : ` as ${user.name}`} pid ${pty.pid} (${spec.cols}x${spec.rows}, ${spec.term})${this.id === undefined ? '' : ', resumable'}`);
    this.#conn = conn;
    conn.attachTo(this);
    // Announced before any output: the PTY's first read comes on a later turn of the event loop.
    if (this.id !== undefined) conn.sendFrame({ type: 'session', sessionId: this.id, secret: this.secret, detachTimeoutSeconds: Math.round(o.detachTimeoutMs / 1000) });
    pty.onData((data) => this.#onPtyData(data));
    pty.onExit(({ exitCode, signal }) => this.#onShellExit(signal !== undefined && signal > 0 ? 128 + signal : exitCode));
    this.#input = ptyInputSocket(pty);
    this.#input?.on('drain', () => {
      if (!this.#inputBlocked) return;
      this.#inputBlocked = false;
      this.#conn?.resumeReading();
      this.updateFlow();
    });
  }

  /**
   * Attaches `conn` (whose client presented the right secret): a connection already attached is
   * let go (taken over), the client learns how much input arrived and gets the output from
   * `outputOffset` (or the oldest still kept), then live output; a shell that exited meanwhile
   * ends the session after the replay.
   */
  attach(conn: ClientConnection, outputOffset: number, size: { cols: number; rows: number }): void {
    const ring = this.#ring;
    if (ring === undefined || this.#ended) throw new Error('not a live resumable session');
    const previous = this.#conn;
    if (previous !== undefined) {
      this.#conn = undefined;
      previous.close(SessionCloseCode.TakenOver, `${this.label}: another connection attached to this session`);
    }
    clearTimeout(this.#detachTimer);
    this.#detachTimer = undefined;
    const away = this.detachedAt === undefined ? 0 : Date.now() - this.detachedAt;
    this.detachedAt = undefined;
    if (outputOffset > ring.end) this.#o.log(`${this.label}: the client claims output up to ${outputOffset}, more than the ${ring.end} bytes there were`);
    const from = Math.min(Math.max(outputOffset, ring.start), ring.end);
    this.#conn = conn;
    conn.attachTo(this);
    conn.sendFrame({ type: 'attached', inputReceived: this.#inputReceived, outputOffset: from, detachTimeoutSeconds: Math.round(this.#o.detachTimeoutMs / 1000) });
    conn.replay(ring.since(from));
    this.#o.log(
      `${this.label}: reattached${previous !== undefined ? ' (taking over from another connection)' : ` after ${(away / 1000).toFixed(1)} s detached`}; ` +
        `replayed ${ring.end - from} bytes${from > outputOffset ? ` (${from - outputOffset} bytes no longer kept)` : ''}, ${this.#inputReceived} bytes of input so far`,
    );
    if (this.#exitCode !== undefined) {
      this.#conn = undefined;
      conn.finish(this.#exitCode);
      this.#end({ code: SessionCloseCode.Exited, message: `The shell exited with code ${this.#exitCode}.` });
      return;
    }
    if (this.#inputBlocked) conn.pauseReading();
    this.resize(size.cols, size.rows);
    this.updateFlow();
  }

  /** Keystrokes from the attached connection. */
  input(conn: ClientConnection, data: Uint8Array): void {
    const pty = this.#pty;
    if (conn !== this.#conn || pty === undefined || this.#exitCode !== undefined) return;
    pty.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.#inputReceived += data.length;
    if (this.#input !== undefined && this.#input.writableLength > this.#o.inputHighWaterBytes && !this.#inputBlocked) {
      this.#inputBlocked = true;
      conn.pauseReading();
      this.updateFlow();
    }
  }

  resize(cols: number, rows: number): void {
    if (this.#pty === undefined || this.#exitCode !== undefined) return;
    try {
      this.#pty.resize(cols, rows);
    } catch {
      // The terminal closed under us (the shell is exiting); its exit is reported shortly.
    }
  }

  /**
   * `conn`'s socket closed. A plain session hangs up its shell; a resumable one keeps it for the
   * detach timeout (unless it is being ended anyway).
   */
  detach(conn: ClientConnection, failed: boolean): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    const pid = this.#pty?.pid ?? '?';
    if (this.id === undefined || this.#ending !== undefined) {
      if (this.#exitCode === undefined) {
        if (!failed) this.#o.log(`${this.label}: connection closed; hanging up shell pid ${pid}`);
        this.#hangUp();
      }
      this.updateFlow();
      this.#settle();
      return;
    }
    this.detachedAt = Date.now();
    const seconds = Math.round(this.#o.detachTimeoutMs / 1000);
    this.#o.log(`${this.label}: connection closed; keeping shell pid ${pid} detached for ${seconds} s`);
    this.#detachTimer = setTimeout(() => {
      if (this.#exitCode !== undefined) {
        this.#o.log(`${this.label}: detached for ${seconds} s; forgetting its last output`);
        this.endNow({ code: SessionCloseCode.Exited, message: `The shell exited with code ${this.#exitCode} while detached, and nobody came back to it within ${seconds} s.` });
        return;
      }
      this.#o.log(`${this.label}: detached for ${seconds} s; hanging up shell pid ${pid}`);
      this.endNow({ code: SessionCloseCode.Expired, message: `The session was left detached for more than ${seconds} s; its shell was hung up.` });
    }, this.#o.detachTimeoutMs);
    this.updateFlow();
  }

  /**
   * Ends the session on purpose (detach timeout, a request, no room, shutdown): an attached client
   * is told why, the shell is hung up, and a later attach is told `end`.
   */
  endNow(end: SessionEnd): void {
    if (this.#ended) return;
    this.#ending ??= end;
    clearTimeout(this.#detachTimer);
    const conn = this.#conn;
    if (conn !== undefined && this.id !== undefined) {
      this.#conn = undefined;
      conn.close(end.code, end.message);
    }
    if (this.#exitCode !== undefined || this.#pty === undefined) {
      this.#end(this.#ending);
      return;
    }
    this.#hangUp();
    this.updateFlow();
  }

  /** Server shutdown: hang up the shell; an attached client gets EXIT with the hangup's status. */
  terminate(): void {
    this.#ending ??= { code: SessionCloseCode.Ended, message: 'The shell server shut down.' };
    clearTimeout(this.#detachTimer);
    if (this.#pty === undefined || this.#exitCode !== undefined) {
      this.#end(this.#ending);
      return;
    }
    this.#hangUp();
    this.updateFlow();
  }

  #onPtyData(data: Buffer): void {
    this.#ring?.append(data);
    // A plain session without its client drains the PTY into nothing so node-pty sees it close.
    this.#conn?.output(data);
  }

  /** Reads the PTY exactly when the attached connection does not hold it back. */
  updateFlow(): void {
    const pty = this.#pty;
    if (pty === undefined || this.#exitCode !== undefined) return;
    const paused = !this.#shellGone && this.#conn !== undefined && this.#conn.holdsBack(this.#inputBlocked);
    if (paused === this.#ptyPaused) return;
    this.#ptyPaused = paused;
    if (paused) {
      pty.pause();
      this.#watchForExit(pty);
    } else {
      this.#stopExitWatch();
      this.#conn?.resumedAfterPause();
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
      this.updateFlow();
    }, 50);
  }

  #stopExitWatch(): void {
    clearInterval(this.#exitWatch);
    this.#exitWatch = undefined;
  }

  #onShellExit(code: number): void {
    this.#stopExitWatch();
    this.#exitCode = code;
    this.#o.log(`${this.label}: shell pid ${this.#pty?.pid ?? '?'} exited with code ${code}`);
    const conn = this.#conn;
    if (conn !== undefined) {
      this.#conn = undefined;
      conn.finish(code);
      this.#end({ code: SessionCloseCode.Exited, message: `The shell exited with code ${code}.` });
    } else if (this.id !== undefined && this.#ending === undefined) {
      // Exited while detached: its last output and status wait for the client until the timeout.
      this.#o.log(`${this.label}: keeping its last output for a client to come back`);
    } else {
      this.#end(this.#ending ?? { code: SessionCloseCode.Exited, message: `The shell exited with code ${code}.` });
    }
  }

  /** SIGHUP to the terminal's process groups now, SIGKILL after the grace period. */
  #hangUp(): void {
    const pty = this.#pty;
    if (pty === undefined || this.#hungUp) return;
    this.#hungUp = true;
    const groups = terminalProcessGroups(pty.pid);
    signalGroups(groups, 'SIGHUP');
    const timer = setTimeout(() => signalGroups(groups, 'SIGKILL'), this.#o.killGraceMs);
    // Not cleared with the session: it must outlive it to catch a foreground job that ignores SIGHUP.
    timer.unref();
  }

  #end(end: SessionEnd): void {
    if (!this.#ended) {
      this.#ended = true;
      clearTimeout(this.#detachTimer);
      this.#onEnd(end);
    }
    this.#settle();
  }

  #settle(): void {
    if (this.#conn !== undefined || (this.#pty !== undefined && this.#exitCode === undefined)) return;
    if (!this.#ended) {
      this.#ended = true;
      clearTimeout(this.#detachTimer);
      this.#onEnd(this.#ending ?? { code: SessionCloseCode.Exited, message: `The shell exited with code ${this.#exitCode ?? '?'}.` });
    }
    this.#stopExitWatch();
    this.#resolveClosed();
  }
}
