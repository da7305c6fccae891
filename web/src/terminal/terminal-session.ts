/**
 * One live terminal in the page: the xterm.js Terminal, its FitAddon and the console WebSocket
 * (shared/console-protocol.ts) that carries terminal-protocol frames (shared/terminal-protocol.ts)
 * to and from the device's shell server. Plain class, no React (as ttyd does it): the page mounts
 * it, reads its state through `subscribe`/`getState`, and calls `dispose()` on unmount. Every
 * listener, observer and timer is registered in a disposables list so nothing outlives it.
 *
 * This module imports xterm statically; the page that uses it is loaded lazily, so xterm stays out
 * of the login and device pages' bundle.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { parseConsoleStatus, type ConsoleRequest } from '../../../shared/console-protocol';
import { MAX_FRAME_BYTES } from '../../../shared/limits';
import {
  ACK_EVERY_BYTES,
  FrameDecoder,
  TERMINAL_PROTOCOL_VERSION,
  TerminalProtocolError,
  encodeFrame,
  type TerminalFrame,
} from '../../../shared/terminal-protocol';
import { describeTerminalClose } from './close-reason';
import { TERMINAL_OPTIONS } from './terminal-options';
import { StateStore } from '../state-store';
import { WriteFlowControl } from './flow-control';

/** Where the session is: opening the socket, the BFF's three steps, then closed. */
export type SessionPhase = 'connecting' | 'requesting' | 'accepted' | 'connected' | 'closed';

/** What the page shows; a new object on every change (for useSyncExternalStore). */
export interface SessionState {
  phase: SessionPhase;
  /** The status line: each step, and once closed, why. */
  message: string;
  /** Last measured round trip to the BFF and back, in ms; null until measured or once closed. */
  rttMs: number | null;
  /** The close code once closed. */
  closeCode: number | null;
  /** Whether the socket ever opened (false for a refused upgrade, e.g. a stale session). */
  opened: boolean;
}

export interface TerminalSessionOptions {
  deviceId: string;
  /** The page's location, for the socket URL; defaults to `window.location`. */
  location?: Pick<Location, 'protocol' | 'host'>;
}

interface Disposable {
  dispose(): void;
}

/** One WebSocket's worth of state; a reconnect makes a new one. */
interface Connection {
  ws: WebSocket;
  decoder: FrameDecoder;
  exitCode: number | null;
  errorMessage: string | null;
  localError: string | null;
  opened: boolean;
  disposables: Disposable[];
  /** DATA bytes rendered and not yet acknowledged to the shell server. */
  rendered: number;
}

/** A ping every 2 s gives a fresh latency figure without measurable traffic. */
const PING_INTERVAL_MS = 2000;
/** Resizes are coalesced: dragging a window edge must not send a RESIZE per pixel. */
const RESIZE_DEBOUNCE_MS = 100;
/** Each outgoing WebSocket message stays within one bridge frame (header included). */
const MAX_OUTGOING_DATA = MAX_FRAME_BYTES - 5;

const phaseMessages: Record<Exclude<SessionPhase, 'closed'>, string> = {
  connecting: 'Connecting…',
  requesting: 'Requesting stream…',
  accepted: 'Device accepted',
  connected: 'Connected',
};

/**
 * xterm labels its hidden input textarea "Terminal input"; the page labels the terminal region
 * "Terminal", and two accessible names where one contains the other make "find by label" lookups
 * ambiguous. The textarea gets a name of its own.
 */
Terminal.strings.promptLabel = 'Shell input';

const encoder = new TextEncoder();

function listen<K extends keyof WebSocketEventMap>(ws: WebSocket, type: K, fn: (ev: WebSocketEventMap[K]) => void): Disposable {
  ws.addEventListener(type, fn);
  return { dispose: () => ws.removeEventListener(type, fn) };
}

/** A live terminal bound to a DOM element; see the module comment. */
export class TerminalSession {
  readonly #deviceId: string;
  readonly #location: Pick<Location, 'protocol' | 'host'>;
  readonly #terminal: Terminal;
  readonly #fit: FitAddon;
  readonly #flow = new WriteFlowControl();
  readonly #disposables: Disposable[] = [];
  #conn: Connection | null = null;
  readonly #store = new StateStore<SessionState>({ phase: 'connecting', message: phaseMessages.connecting, rttMs: null, closeCode: null, opened: false });

  get #state(): SessionState {
    return this.#store.get();
  }
  #disposed = false;

  constructor(container: HTMLElement, options: TerminalSessionOptions) {
    this.#deviceId = options.deviceId;
    this.#location = options.location ?? window.location;
    this.#terminal = new Terminal({ ...TERMINAL_OPTIONS });
    this.#fit = new FitAddon();
    this.#terminal.loadAddon(this.#fit);
    this.#terminal.open(container);
    this.#safeFit();
    // Registered first so it is disposed last, after every listener on it (it disposes its addons).
    this.#disposables.push(this.#terminal);

    this.#disposables.push(
      this.#terminal.onData((text) => this.#sendData(encoder.encode(text))),
      // Some mouse reports are not valid UTF-8; xterm hands them over as a binary string.
      this.#terminal.onBinary((bin) => this.#sendData(Uint8Array.from(bin, (c) => c.charCodeAt(0) & 0xff))),
      this.#terminal.onResize(({ cols, rows }) => this.#send(encodeFrame({ type: 'resize', cols, rows }))),
    );

    this.#terminal.attachCustomKeyEventHandler((ev) => this.#onKey(ev));

    let resizeTimer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver(() => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => this.#safeFit(), RESIZE_DEBOUNCE_MS);
    });
    observer.observe(container);
    this.#disposables.push({
      dispose: () => {
        observer.disconnect();
        clearTimeout(resizeTimer);
      },
    });
  }

  /** Opens the socket to the device's shell (once; use `reconnect` after a close). */
  connect(): void {
    if (this.#disposed || this.#conn !== null) return;
    this.#safeFit();
    const { cols, rows } = this.#terminal;
    const q = new URLSearchParams({ deviceId: this.#deviceId, cols: String(cols), rows: String(rows) });
    const scheme = this.#location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${this.#location.host}/api/terminal?${q.toString()}`);
    ws.binaryType = 'arraybuffer';
    const conn: Connection = { ws, decoder: new FrameDecoder(), exitCode: null, errorMessage: null, localError: null, opened: false, disposables: [], rendered: 0 };
    this.#conn = conn;
    this.#flow.resetPause();
    this.#setState({ phase: 'connecting', message: phaseMessages.connecting, rttMs: null, closeCode: null, opened: false });

    conn.disposables.push(
      listen(ws, 'open', () => this.#onOpen(conn)),
      listen(ws, 'message', (ev) => this.#onMessage(conn, ev)),
      listen(ws, 'close', (ev) => this.#onClose(conn, ev.code, ev.reason)),
      // An 'error' event is always followed by 'close', which says why; nothing to do here.
      listen(ws, 'error', () => undefined),
    );
  }

  /** Starts over with a fresh socket and a clean screen; only meaningful once closed. */
  reconnect(): void {
    if (this.#disposed) return;
    if (this.#conn !== null) this.#dropConnection(this.#conn, 1000, 'reconnect');
    this.#terminal.reset();
    this.connect();
    this.#terminal.focus();
  }

  /** Copies xterm's selection to the clipboard; false when nothing is selected or copying failed. */
  async copySelection(): Promise<boolean> {
    const text = this.#terminal.getSelection();
    if (text === '') return false;
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      return copyWithTextarea(text);
    }
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
    // From here on no state change reaches a listener (as before: #set ignored them once disposed).
    this.#store.close();
    if (this.#conn !== null) this.#dropConnection(this.#conn, 1000, 'page closed');
    // Reverse order: listeners on the terminal go before the terminal itself.
    for (const d of this.#disposables.splice(0).reverse()) d.dispose();
  }

  #onOpen(conn: Connection): void {
    conn.opened = true;
    const { cols, rows } = this.#terminal;
    // The first frame on the stream tells the shell server the protocol version and the size.
    sendBinary(conn.ws, encodeFrame({ type: 'hello', version: TERMINAL_PROTOCOL_VERSION, term: 'xterm-256color', cols, rows }));
    // Turn on the shell server's ACK window (see terminal-protocol.ts): keeps what is in flight small.
    sendBinary(conn.ws, encodeFrame({ type: 'ack', bytes: 0 }));
    this.#ping(conn);
    const timer = setInterval(() => this.#ping(conn), PING_INTERVAL_MS);
    conn.disposables.push({ dispose: () => clearInterval(timer) });
    this.#setState({ ...this.#state, opened: true });
  }

  #onMessage(conn: Connection, ev: MessageEvent): void {
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
      if (f.type === 'data') this.#write(conn, f.data);
      else if (f.type === 'exit') conn.exitCode = f.code;
      // HELLO, RESIZE, PAUSE and RESUME only ever go browser → shell; ignore them here.
    }
  }

  #onStatus(conn: Connection, text: string): void {
    const msg = parseConsoleStatus(text);
    if (msg === undefined) return;
    switch (msg.type) {
      case 'status':
        this.#setState({ ...this.#state, phase: msg.phase, message: phaseMessages[msg.phase] });
        break;
      case 'pong': {
        const rtt = Math.max(0, Math.round(performance.now() - msg.t));
        if (rtt !== this.#state.rttMs) this.#setState({ ...this.#state, rttMs: rtt });
        break;
      }
      case 'error':
        conn.errorMessage = msg.message;
        break;
    }
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    for (const d of conn.disposables.splice(0)) d.dispose();
    const message = describeTerminalClose({
      code,
      reason,
      exitCode: conn.exitCode,
      errorMessage: conn.errorMessage,
      localError: conn.localError,
    });
    this.#setState({ phase: 'closed', message, rttMs: null, closeCode: code, opened: conn.opened });
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
        this.#sendOn(conn, encodeFrame({ type: 'ack', bytes: conn.rendered }));
        conn.rendered = 0;
      }
    });
    if (this.#flow.written(n)) this.#sendOn(conn, encodeFrame({ type: 'pause' }));
  }

  #ping(conn: Connection): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    const req: ConsoleRequest = { type: 'ping', t: performance.now() };
    conn.ws.send(JSON.stringify(req));
  }

  /** Keystrokes as DATA frames, each within one bridge frame so a large paste is split. */
  #sendData(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += MAX_OUTGOING_DATA) {
      this.#send(encodeFrame({ type: 'data', data: bytes.subarray(off, off + MAX_OUTGOING_DATA) }));
    }
  }

  #send(frame: Uint8Array): void {
    if (this.#conn !== null) this.#sendOn(this.#conn, frame);
  }

  #sendOn(conn: Connection, frame: Uint8Array): void {
    // Before the socket opens there is no HELLO yet, so nothing may go ahead of it; after it
    // closes there is no one to hear. Either way the frame is dropped, never queued.
    if (conn.opened && conn.ws.readyState === WebSocket.OPEN) sendBinary(conn.ws, frame);
  }

  /** Ctrl/Cmd+Shift+C copies the selection; Ctrl/Cmd+Shift+V is left to the browser's paste. */
  #onKey(ev: KeyboardEvent): boolean {
    if (!(ev.ctrlKey || ev.metaKey) || !ev.shiftKey || ev.altKey) return true;
    const key = ev.key.toLowerCase();
    if (key === 'c') {
      if (ev.type === 'keydown') {
        ev.preventDefault();
        void this.copySelection();
      }
      return false;
    }
    // Returning false keeps xterm from sending ^V; the browser then raises a paste event, which
    // xterm turns into input (with bracketed paste when the shell asked for it).
    if (key === 'v') return false;
    return true;
  }

  /** fit() measures the DOM; it throws or returns nonsense while the element is hidden. */
  #safeFit(): void {
    try {
      const dims = this.#fit.proposeDimensions();
      if (dims !== undefined && Number.isFinite(dims.cols) && Number.isFinite(dims.rows) && dims.cols > 1 && dims.rows > 1) this.#fit.fit();
    } catch {
      // not laid out yet; the ResizeObserver fits once it is
    }
  }

  #setState(next: SessionState): void {
    this.#store.set(next);
  }
}

/**
 * The codec's frames are typed over ArrayBufferLike (it also runs on Node), while the DOM's
 * send() wants an ArrayBuffer-backed view. encodeFrame always allocates a plain ArrayBuffer.
 */
function sendBinary(ws: WebSocket, frame: Uint8Array): void {
  ws.send(frame as Uint8Array<ArrayBuffer>);
}

/** Clipboard fallback for pages on plain HTTP, where navigator.clipboard is unavailable. */
function copyWithTextarea(text: string): boolean {
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  try {
    return document.execCommand('copy');
  } finally {
    ta.remove();
  }
}
