/**
 * One live terminal in the page: the xterm.js Terminal (fitted-terminal.ts) and the console WebSocket
 * (shared/console-protocol.ts) that carries terminal-protocol frames (shared/terminal-protocol.ts)
 * to and from the device's shell server. Plain class, no React (as ttyd does it): the page mounts
 * it, reads its state through `subscribe`/`getState`, and calls `dispose()` on unmount. Every
 * listener, observer and timer is registered in a disposables list so nothing outlives it.
 *
 * Sessions are resumable (terminal protocol version 2): the device keeps the shell when the
 * connection drops, and this class comes back to it by itself — with backoff, at once when the
 * browser says it is online again or the tab is shown — while the status line says
 * "Reconnecting…". Output is counted so the device replays exactly what this page has not shown
 * (or the page marks a gap); keystrokes typed meanwhile wait and go out once (input-ledger.ts).
 * A connection that stops answering pings is given up on, since a sleeping laptop or a vanished
 * network may leave a socket that looks open for minutes. A page opened with a session id (a
 * reload, another tab, the sessions list) reattaches that session.
 *
 * This module imports xterm statically; the page that uses it is loaded lazily, so xterm stays out
 * of the login and device pages' bundle.
 */
import type { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { ConsoleCloseCode, parseConsoleStatus } from '../../../shared/console-protocol';
import {
  ACK_EVERY_BYTES,
  FrameDecoder,
  SessionCloseCode,
  TERMINAL_PROTOCOL_VERSION,
  TERMINAL_RESUMABLE_VERSION,
  TerminalProtocolError,
  encodeFrame,
  type HelloSession,
  type TerminalFrame,
} from '../../../shared/terminal-protocol';
import { TAKEN_OVER_SENTENCE, describeTerminalClose, endTone, type EndTone } from './close-reason';
import { listen, listenWindow, newConnection, PING_INTERVAL_MS, sendBinary, sendFrame, sendInput, sendPing, unanswered, type Connection, type Disposable } from './connection';
import { LeaveKey } from './leave-terminal';
import { PHASE_MESSAGES, bytesText, initialSessionState, type SessionState } from './session-state';
import { copyText } from '../clipboard';
import { terminalKeys } from './terminal-keys';
import { mountFittedTerminal } from './fitted-terminal';
import { TERMINAL_OPTIONS } from './terminal-options';
import { StateStore } from '../state-store';
import { WriteFlowControl } from './flow-control';
import { InputLedger } from './input-ledger';
import { backoffMs, sessionOver, shouldReconnect } from './reconnect';

export interface TerminalSessionOptions {
  deviceId: string;
  /** Reattach this session instead of starting one (a reload, another tab, the sessions list). */
  sessionId?: string | undefined;
  /** Told the session id once the device announces it, and null when the page starts over. */
  onSession?: (sessionId: string | null) => void;
  /** The page's location, for the socket URL; defaults to `window.location`. */
  location?: Pick<Location, 'protocol' | 'host'>;
}

/** Past its detach timeout (and this much slack) a session the page cannot reach has ended on the device. */
const GIVE_UP_SLACK_MS = 30_000;

const encoder = new TextEncoder();

/** A live terminal bound to a DOM element; see the module comment. */
export class TerminalSession {
  readonly #deviceId: string;
  readonly #location: Pick<Location, 'protocol' | 'host'>;
  readonly #onSession: (sessionId: string | null) => void;
  readonly #terminal: Terminal;
  readonly #fit: () => void;
  readonly #flow = new WriteFlowControl();
  readonly #disposables: Disposable[] = [];
  #conn: Connection | null = null;
  #sessionId: string | null;
  #detachTimeoutMs = 0;
  /** Session offset of the next output byte: what this page has shown of the session. */
  #outputAt = 0;
  #input = new InputLedger();
  /** The HELLO version to ask for; 1 after a shell server that does not speak 2 refused it. */
  #version = TERMINAL_RESUMABLE_VERSION;
  /** While coming back after a drop: when the drop happened, the attempts so far, the next one. */
  #droppedAt: number | null = null;
  #attempts = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #store: StateStore<SessionState>;
  readonly #leave = new LeaveKey();
  #disposed = false;

  get #state(): SessionState {
    return this.#store.get();
  }

  constructor(container: HTMLElement, options: TerminalSessionOptions) {
    this.#deviceId = options.deviceId;
    this.#sessionId = options.sessionId ?? null;
    this.#onSession = options.onSession ?? (() => undefined);
    this.#location = options.location ?? window.location;
    this.#store = new StateStore<SessionState>(initialSessionState(this.#sessionId));
    const screen = mountFittedTerminal(container);
    this.#terminal = screen.terminal;
    this.#fit = screen.fit;
    // Registered first so it is disposed last, after every listener on the terminal.
    this.#disposables.push(screen);

    this.#disposables.push(
      this.#terminal.onData((text) => this.#sendData(encoder.encode(text))),
      // Some mouse reports are not valid UTF-8; xterm hands them over as a binary string.
      this.#terminal.onBinary((bin) => this.#sendData(Uint8Array.from(bin, (c) => c.charCodeAt(0) & 0xff))),
      this.#terminal.onResize(({ cols, rows }) => this.#send(encodeFrame({ type: 'resize', cols, rows }))),
      // Back online, or shown again after a while hidden: no need to wait out the backoff.
      listenWindow('online', () => this.#retryNow()),
      listenWindow('visibilitychange', () => {
        if (document.visibilityState === 'visible') this.#retryNow();
      }, document),
      { dispose: () => clearTimeout(this.#retry) },
    );

    this.#terminal.attachCustomKeyEventHandler(
      terminalKeys({ leave: this.#leave, container, live: () => this.#state.phase !== 'closed', copySelection: () => void this.copySelection() }),
    );
  }

  /** Opens the socket to the device's shell (once; see `reattach` and `restart` after a close). */
  connect(): void {
    if (this.#disposed || this.#conn !== null) return;
    this.#open();
  }

  /** Comes back to a session another page took over; only meaningful once closed with `canReattach`. */
  reattach(): void {
    if (this.#disposed || this.#sessionId === null) return;
    if (this.#conn !== null) this.#dropConnection(this.#conn, 1000, 'reattach');
    this.#open();
    this.#terminal.focus();
  }

  /** Starts a new session on a clean screen; only meaningful once closed. */
  restart(): void {
    if (this.#disposed) return;
    if (this.#conn !== null) this.#dropConnection(this.#conn, 1000, 'new session');
    clearTimeout(this.#retry);
    this.#sessionId = null;
    this.#onSession(null);
    this.#outputAt = 0;
    this.#input = new InputLedger();
    this.#version = TERMINAL_RESUMABLE_VERSION;
    this.#droppedAt = null;
    this.#attempts = 0;
    this.#terminal.reset();
    this.#setState({ ...this.#state, recorded: false });
    this.#open();
    this.#terminal.focus();
  }

  /** Copies xterm's selection to the clipboard; false when nothing is selected or copying failed. */
  async copySelection(): Promise<boolean> {
    const text = this.#terminal.getSelection();
    return text === '' ? false : await copyText(text);
  }

  /** Moves keyboard focus into the terminal. */
  focus(): void {
    this.#terminal.focus();
  }

  /** The current state; the same object until something changes. */
  getState(): SessionState {
    return this.#store.get();
  }

  /** Calls `listener` after every state change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }

  /** Closes the socket and releases the terminal, every listener and every timer. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // From here on no state change reaches a listener.
    this.#store.close();
    if (this.#conn !== null) this.#dropConnection(this.#conn, 1000, 'page closed');
    // Reverse order: listeners on the terminal go before the terminal itself.
    for (const d of this.#disposables.splice(0).reverse()) d.dispose();
  }

  /** Opens a socket: a new session, or an attach to the known one. */
  #open(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#fit();
    const { cols, rows } = this.#terminal;
    const q = new URLSearchParams({ deviceId: this.#deviceId, cols: String(cols), rows: String(rows) });
    if (this.#sessionId !== null) q.set('session', this.#sessionId);
    const scheme = this.#location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${this.#location.host}/api/terminal?${q.toString()}`);
    ws.binaryType = 'arraybuffer';
    const mode = this.#sessionId !== null ? 'attach' : this.#version === TERMINAL_RESUMABLE_VERSION ? 'new' : 'plain';
    const conn = newConnection(ws, mode, new FrameDecoder());
    this.#conn = conn;
    this.#flow.resetPause();
    this.#setInputOpen(true);
    if (this.#droppedAt === null) {
      this.#setState({ ...this.#state, phase: 'connecting', message: PHASE_MESSAGES.connecting, rttMs: null, closeCode: null, opened: false, ended: false, canReattach: false, hint: null, tone: null });
    }
    conn.disposables.push(
      listen(ws, 'open', () => this.#onOpen(conn)),
      listen(ws, 'message', (ev) => this.#onMessage(conn, ev)),
      listen(ws, 'close', (ev) => this.#onClose(conn, ev.code, ev.reason)),
      // An 'error' event is always followed by 'close', which says why; nothing to do here.
      listen(ws, 'error', () => undefined),
    );
  }

  #onOpen(conn: Connection): void {
    conn.opened = true;
    conn.lastHeard = Date.now();
    const { cols, rows } = this.#terminal;
    // The first frame on the stream tells the shell server the protocol version, the size and,
    // for a reattach, what this page has: output shown and input sent (the console adds the secret).
    if (conn.mode === 'plain') {
      sendBinary(conn.ws, encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, term: 'xterm-256color', cols, rows }));
    } else {
      const session: HelloSession =
        conn.mode === 'attach' && this.#sessionId !== null
          ? { mode: 'attach', sessionId: this.#sessionId, secret: new Uint8Array(0), outputOffset: this.#outputAt, inputOffset: this.#input.sent }
          : { mode: 'new' };
      sendBinary(conn.ws, encodeFrame({ type: 'hello', version: TERMINAL_RESUMABLE_VERSION, term: 'xterm-256color', cols, rows, session }));
    }
    // Turn on the shell server's ACK window (see terminal-protocol.ts): keeps what is in flight small.
    sendBinary(conn.ws, encodeFrame({ type: 'ack', bytes: 0 }));
    // A new session counts input from its HELLO; an attach waits for ATTACHED to know where it is.
    if (conn.mode !== 'attach') sendInput(conn, this.#input.open().send);
    sendPing(conn);
    const timer = setInterval(() => {
      if (this.#sessionId !== null && unanswered(conn, Date.now())) {
        this.#givenUp(conn);
        return;
      }
      sendPing(conn);
    }, PING_INTERVAL_MS);
    conn.disposables.push({ dispose: () => clearInterval(timer) });
    this.#setState({ ...this.#state, opened: true });
  }

  #onMessage(conn: Connection, ev: MessageEvent): void {
    conn.lastHeard = Date.now();
    const data: unknown = ev.data;
    if (typeof data === 'string') {
      this.#onStatus(conn, data);
      return;
    }
    if (!(data instanceof ArrayBuffer)) return;
    let frames: TerminalFrame[];
    try {
      frames = conn.decoder.push(new Uint8Array(data));
    } catch (err) {
      const detail = err instanceof TerminalProtocolError ? err.message : String(err);
      conn.localError = `The device sent a malformed terminal frame: ${detail}`;
      conn.ws.close(1000, 'malformed terminal frame');
      return;
    }
    for (const f of frames) {
      conn.frames += 1;
      switch (f.type) {
        case 'data':
          this.#outputAt += f.data.length;
          this.#write(conn, f.data);
          break;
        case 'exit':
          conn.exitCode = f.code;
          break;
        case 'session':
          this.#sessionId = f.sessionId;
          this.#detachTimeoutMs = f.detachTimeoutSeconds * 1000;
          this.#onSession(f.sessionId);
          this.#setState({ ...this.#state, sessionId: f.sessionId });
          break;
        case 'attached':
          this.#onAttached(conn, f);
          break;
        case 'close':
          conn.closeFrame = { code: f.code, message: f.message };
          break;
        default:
          // HELLO, RESIZE, PAUSE, RESUME and ACK only ever go browser → shell.
          break;
      }
    }
  }

  /** Back in the session: the rest of the input goes out, the output gap (if any) is marked. */
  #onAttached(conn: Connection, f: Extract<TerminalFrame, { type: 'attached' }>): void {
    this.#detachTimeoutMs = f.detachTimeoutSeconds * 1000;
    const notes: string[] = [];
    if (this.#droppedAt !== null) notes.push(`Reattached after ${((Date.now() - this.#droppedAt) / 1000).toFixed(1)} s`);
    if (f.outputOffset > this.#outputAt) {
      const missing = f.outputOffset - this.#outputAt;
      // Only a page that had shown output says so: a fresh page's replay simply starts later.
      if (this.#outputAt > 0) {
        this.#terminal.write(`\r\n\x1b[33m[${bytesText(missing)} of output printed meanwhile were no longer kept by the device]\x1b[0m\r\n`);
        notes.push(`${bytesText(missing)} of output lost`);
      }
      this.#outputAt = f.outputOffset;
    }
    const { send, lost } = this.#input.open(f.inputReceived);
    if (lost > 0) notes.push(`${bytesText(lost)} typed before the drop did not reach the shell and could not be sent again`);
    sendInput(conn, send);
    this.#droppedAt = null;
    this.#attempts = 0;
    this.#setState({ ...this.#state, phase: 'connected', message: PHASE_MESSAGES.connected, closeCode: null, ended: false, canReattach: false, notice: notes.length > 0 ? notes.join('; ') : this.#state.notice });
  }

  #onStatus(conn: Connection, text: string): void {
    const msg = parseConsoleStatus(text);
    if (msg === undefined) return;
    switch (msg.type) {
      case 'status':
        if (msg.phase === 'connected') {
          conn.streamUp = true;
          if (!this.#state.recorded) this.#setState({ ...this.#state, recorded: true });
        }
        // While coming back, the line keeps saying so until the session is reattached.
        if (this.#droppedAt !== null) this.#setState({ ...this.#state, message: `${PHASE_MESSAGES.reconnecting} (${PHASE_MESSAGES[msg.phase].toLowerCase()})` });
        else if (msg.phase !== 'connected' || conn.mode !== 'attach') this.#setState({ ...this.#state, phase: msg.phase, message: PHASE_MESSAGES[msg.phase] });
        break;
      case 'pong': {
        const rtt = Math.max(0, Math.round(performance.now() - msg.t));
        if (rtt !== this.#state.rttMs) this.#setState({ ...this.#state, rttMs: rtt });
        break;
      }
      case 'error':
        conn.errorMessage = msg.message;
        conn.errorHint = msg.hint ?? null;
        break;
    }
  }

  /** A connection that stopped answering: given up on, and the session reattached over a new one. */
  #givenUp(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#dropConnection(conn, 4000, 'no answer');
    this.#afterClose(conn, 1006, '');
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    for (const d of conn.disposables.splice(0)) d.dispose();
    this.#afterClose(conn, code, reason);
  }

  #afterClose(conn: Connection, code: number, reason: string): void {
    this.#input.close();
    // A shell server that speaks only version 1 closes at a version-2 HELLO without a word: ask again in version 1.
    if (conn.mode === 'new' && conn.streamUp && conn.frames === 0 && code === ConsoleCloseCode.Normal && this.#version === TERMINAL_RESUMABLE_VERSION) {
      this.#version = TERMINAL_PROTOCOL_VERSION;
      this.#open();
      return;
    }
    const end = { code, exitCode: conn.exitCode, closeFrame: conn.closeFrame?.code ?? null, localError: conn.localError !== null };
    const why = describeTerminalClose({ code, reason, exitCode: conn.exitCode, errorMessage: conn.errorMessage, localError: conn.localError });
    if (this.#sessionId !== null && shouldReconnect(end)) {
      const now = Date.now();
      this.#droppedAt ??= now;
      if (this.#detachTimeoutMs === 0 || now - this.#droppedAt < this.#detachTimeoutMs + GIVE_UP_SLACK_MS) {
        const wait = backoffMs(this.#attempts++);
        this.#retry = setTimeout(() => this.#open(), wait);
        this.#setState({ ...this.#state, phase: 'reconnecting', message: `${PHASE_MESSAGES.reconnecting} (${why.toLowerCase()})`, rttMs: null, closeCode: code });
        return;
      }
      this.#closed(code, conn.opened, true, `Session ended: the page could not reach it for longer than its detach timeout (${this.#detachTimeoutMs / 1000} s), after which the device ends it`);
      return;
    }
    const takenOver = conn.closeFrame?.code === SessionCloseCode.TakenOver || code === ConsoleCloseCode.TakenOver;
    if (takenOver) {
      const hint = 'Its shell goes on running there. Reattach brings it back to this tab (the other one is told).';
      this.#closed(code, conn.opened, false, conn.errorMessage ?? TAKEN_OVER_SENTENCE, 'elsewhere', hint);
      return;
    }
    if (conn.closeFrame !== null) {
      this.#closed(code, conn.opened, sessionOver(conn.closeFrame.code), `Session ended: ${conn.closeFrame.message}`, 'neutral');
      return;
    }
    // A plain session (no id) ends with its connection; a resumable one only when the server says so.
    const ended = this.#sessionId === null || conn.exitCode !== null || code === ConsoleCloseCode.SessionEnded;
    this.#closed(code, conn.opened, ended, why, endTone({ code, exitCode: conn.exitCode, localError: conn.localError }), conn.errorHint);
  }

  #closed(code: number, opened: boolean, ended: boolean, message: string, tone: EndTone = 'failed', hint: string | null = null): void {
    this.#droppedAt = null;
    this.#attempts = 0;
    this.#setInputOpen(false);
    this.#setState({ ...this.#state, phase: 'closed', message, rttMs: null, closeCode: code, opened, ended, canReattach: !ended && this.#sessionId !== null, hint, tone });
  }

  /** No shell to type to once closed: keystrokes are refused by xterm and the cursor stops blinking. */
  #setInputOpen(open: boolean): void {
    this.#terminal.options.disableStdin = !open;
    this.#terminal.options.cursorBlink = open && TERMINAL_OPTIONS.cursorBlink;
  }

  /** Skips the backoff wait (the browser is online again, the tab is shown again). */
  #retryNow(): void {
    if (this.#retry === undefined || this.#disposed) return;
    clearTimeout(this.#retry);
    this.#open();
  }

  /** Closes a connection without reporting its end (reconnect, dispose). */
  #dropConnection(conn: Connection, code: number, reason: string): void {
    for (const d of conn.disposables.splice(0)) d.dispose();
    if (conn.ws.readyState === WebSocket.CONNECTING || conn.ws.readyState === WebSocket.OPEN) conn.ws.close(code, reason);
    if (this.#conn === conn) this.#conn = null;
  }

  /**
   * Writes shell output to xterm under flow control (see flow-control.ts): PAUSE once the unparsed
   * backlog passes the high watermark, RESUME when the write callbacks bring it under the low one.
   */
  #write(conn: Connection, data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this.#terminal.write(data, () => {
      // Callbacks of an old connection still drain the shared count; RESUME goes to the current one.
      if (this.#flow.drained(n) && !this.#disposed) this.#send(encodeFrame({ type: 'resume' }));
      // Acknowledge rendered output to the connection it came from.
      conn.rendered += n;
      if (conn.rendered >= ACK_EVERY_BYTES && !this.#disposed) {
        sendFrame(conn, encodeFrame({ type: 'ack', bytes: conn.rendered }));
        conn.rendered = 0;
      }
    });
    if (this.#flow.written(n)) sendFrame(conn, encodeFrame({ type: 'pause' }));
  }

  /** Keystrokes: out at once when a connection takes them, else they wait (or are refused, visibly). */
  #sendData(bytes: Uint8Array): void {
    const { send, refused } = this.#input.type(bytes);
    if (refused > 0) this.#setState({ ...this.#state, notice: `${bytesText(refused)} typed while reconnecting were not taken: too much is waiting already` });
    if (send !== null && this.#conn !== null) sendInput(this.#conn, [send]);
  }

  #send(frame: Uint8Array): void {
    if (this.#conn !== null) sendFrame(this.#conn, frame);
  }

  #setState(next: SessionState): void {
    this.#store.set(next);
  }
}
