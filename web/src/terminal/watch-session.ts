/**
 * Watching a live terminal session, read-only (admins): the socket `/api/terminal/watch?streamId=…`
 * (shared/console-api.ts) sends binary terminal-protocol frames — RESIZE with the session's size
 * first, then DATA with the output so far, then live DATA/RESIZE/EXIT — and ConsoleStatus text
 * frames. Nothing is ever sent back: the terminal has stdin disabled and no input listener.
 * Plain class like TerminalSession: the page mounts it and calls `dispose()` on unmount.
 */
import { ConsoleCloseCode, parseConsoleStatus } from '../../../shared/console-protocol';
import { FrameDecoder, TerminalProtocolError, type TerminalFrame } from '../../../shared/terminal-protocol';
import { listen, type Disposable } from './connection';
import { FixedTerminal } from './fixed-terminal';
import { StateStore } from '../state-store';
import { describeWatchClose } from './watch-close-reason';

export type WatchPhase = 'connecting' | 'live' | 'closed';

/** What the page shows; a new object on every change. */
export interface WatchState {
  phase: WatchPhase;
  /** The status line. */
  message: string;
  closeCode: number | null;
  /** Whether the socket ever opened (false for a refused upgrade, e.g. a stale session). */
  opened: boolean;
  /** Whether connecting again could help (not after the session ended or stopped being live). */
  canReconnect: boolean;
  /** The watched terminal's size. */
  cols: number;
  rows: number;
}

export interface WatchSessionOptions {
  streamId: string;
  /** The page's location, for the socket URL; defaults to `window.location`. */
  location?: Pick<Location, 'protocol' | 'host'>;
}

interface Connection {
  ws: WebSocket;
  decoder: FrameDecoder;
  exitCode: number | null;
  errorMessage: string | null;
  localError: string | null;
  opened: boolean;
  listeners: Disposable[];
}

/**
 * The watcher cannot slow the session down (it sends nothing, so no PAUSE); if this page falls
 * this far behind in drawing, it stops rather than let xterm's queue grow without bound.
 */
const MAX_UNPARSED_BYTES = 8 * 1024 * 1024;

/** Until the first RESIZE says otherwise. */
const DEFAULT_SIZE = { cols: 80, rows: 24 };

export class WatchSession {
  readonly #streamId: string;
  readonly #location: Pick<Location, 'protocol' | 'host'>;
  readonly #view: FixedTerminal;
  #conn: Connection | null = null;
  readonly #store = new StateStore<WatchState>({ phase: 'connecting', message: 'Connecting…', closeCode: null, opened: false, canReconnect: false, ...DEFAULT_SIZE });
  #disposed = false;

  constructor(container: HTMLElement, options: WatchSessionOptions) {
    this.#streamId = options.streamId;
    this.#location = options.location ?? window.location;
    this.#view = new FixedTerminal(container, { ...DEFAULT_SIZE, scrollback: 5000 });
  }

  /** Opens the socket (once; `reconnect` after a close). */
  connect(): void {
    if (this.#disposed || this.#conn !== null) return;
    const scheme = this.#location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ streamId: this.#streamId });
    const ws = new WebSocket(`${scheme}//${this.#location.host}/api/terminal/watch?${q.toString()}`);
    ws.binaryType = 'arraybuffer';
    const conn: Connection = { ws, decoder: new FrameDecoder(), exitCode: null, errorMessage: null, localError: null, opened: false, listeners: [] };
    this.#conn = conn;
    const on = <K extends keyof WebSocketEventMap>(type: K, fn: (ev: WebSocketEventMap[K]) => void) => conn.listeners.push(listen(ws, type, fn));
    on('open', () => {
      conn.opened = true;
      this.#set({ phase: 'live', message: 'Watching live', opened: true });
    });
    on('message', (ev) => this.#onMessage(conn, ev));
    on('close', (ev) => this.#onClose(conn, ev.code, ev.reason));
    // 'error' is always followed by 'close', which says why.
    on('error', () => undefined);
    this.#set({ phase: 'connecting', message: 'Connecting…', closeCode: null, opened: false, canReconnect: false });
  }

  /** A fresh socket and a clean screen (the server sends the output so far again). */
  reconnect(): void {
    if (this.#disposed) return;
    if (this.#conn !== null) this.#drop(this.#conn);
    this.#view.write('\x1bc');
    this.connect();
  }

  getState(): WatchState {
    return this.#store.get();
  }

  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // From here on no state change reaches a listener (as before: #set ignored them once disposed).
    this.#store.close();
    if (this.#conn !== null) this.#drop(this.#conn);
    this.#view.dispose();
  }

  #onMessage(conn: Connection, ev: MessageEvent): void {
    const data: unknown = ev.data;
    if (typeof data === 'string') {
      const msg = parseConsoleStatus(data);
      if (msg?.type === 'error') conn.errorMessage = msg.message;
      return;
    }
    if (!(data instanceof ArrayBuffer)) return;
    let frames: TerminalFrame[];
    try {
      frames = conn.decoder.push(new Uint8Array(data));
    } catch (err) {
      conn.localError = `The server sent a malformed terminal frame: ${err instanceof TerminalProtocolError ? err.message : String(err)}`;
      conn.ws.close(1000, 'malformed terminal frame');
      return;
    }
    for (const f of frames) {
      if (f.type === 'data') {
        this.#view.write(f.data);
        if (this.#view.pendingChars > MAX_UNPARSED_BYTES) {
          conn.localError = 'This page fell too far behind the live session. Reconnect to catch up.';
          conn.ws.close(1000, 'watcher too slow');
          return;
        }
      } else if (f.type === 'resize') {
        this.#view.resize(f.cols, f.rows);
        this.#set({ cols: f.cols, rows: f.rows });
      } else if (f.type === 'exit') {
        conn.exitCode = f.code;
      }
    }
  }

  #onClose(conn: Connection, code: number, reason: string): void {
    if (this.#conn !== conn) return;
    this.#drop(conn);
    const message = describeWatchClose({ code, reason, exitCode: conn.exitCode, errorMessage: conn.errorMessage, localError: conn.localError, opened: conn.opened });
    const over = conn.localError === null && (conn.exitCode !== null || code === ConsoleCloseCode.Normal || code === ConsoleCloseCode.NotFound);
    this.#set({ phase: 'closed', message, closeCode: code, opened: conn.opened, canReconnect: !over });
  }

  #drop(conn: Connection): void {
    for (const d of conn.listeners.splice(0)) d.dispose();
    if (conn.ws.readyState === WebSocket.CONNECTING || conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1000, 'page closed');
    if (this.#conn === conn) this.#conn = null;
  }

  #set(patch: Partial<WatchState>): void {
    this.#store.update(patch);
  }
}
