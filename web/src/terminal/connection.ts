/**
 * One console WebSocket of a terminal session (a reconnect makes a new one): what it asked for,
 * what it heard, and the listeners and timers to dispose with it; when it counts as dead.
 */
import type { ConsoleRequest } from '../../../shared/console-protocol';
import { MAX_FRAME_BYTES } from '../../../shared/limits';
import { encodeFrame, type FrameDecoder } from '../../../shared/terminal-protocol';

export interface Disposable {
  dispose(): void;
}

/** One WebSocket's worth of state; a reconnect makes a new one. */
export interface Connection {
  ws: WebSocket;
  /** What its HELLO asks for. */
  mode: 'plain' | 'new' | 'attach';
  decoder: FrameDecoder;
  exitCode: number | null;
  /** The shell server's CLOSE frame: why it let this connection go. */
  closeFrame: { code: number; message: string } | null;
  errorMessage: string | null;
  errorHint: string | null;
  localError: string | null;
  opened: boolean;
  /** The BFF said the stream is up, and how many frames came from the device since. */
  streamUp: boolean;
  frames: number;
  /** When the server last said anything (pong, status, output). */
  lastHeard: number;
  disposables: Disposable[];
  /** DATA bytes rendered and not yet acknowledged to the shell server. */
  rendered: number;
}

/** A ping every 2 s gives a fresh latency figure without measurable traffic. */
export const PING_INTERVAL_MS = 2000;
/**
 * A connection that has not answered for this long is taken for dead and replaced (a resumable
 * session only: the device keeps the shell, so giving up on a slow connection costs nothing).
 * Until its stream is up the console answers no pings (it is waiting for the device, within its
 * own connect and response timeouts), so that wait gets longer.
 */
export const DEAD_AFTER_MS = 7000;
export const DEAD_BEFORE_STREAM_MS = 30_000;

export function listen<K extends keyof WebSocketEventMap>(ws: WebSocket, type: K, fn: (ev: WebSocketEventMap[K]) => void): Disposable {
  ws.addEventListener(type, fn);
  return { dispose: () => ws.removeEventListener(type, fn) };
}

export function listenWindow(type: string, fn: () => void, target: EventTarget = window): Disposable {
  target.addEventListener(type, fn);
  return { dispose: () => target.removeEventListener(type, fn) };
}

/**
 * The codec's frames are typed over ArrayBufferLike (it also runs on Node), while the DOM's
 * send() wants an ArrayBuffer-backed view. encodeFrame always allocates a plain ArrayBuffer.
 */
export function sendBinary(ws: WebSocket, frame: Uint8Array): void {
  ws.send(frame as Uint8Array<ArrayBuffer>);
}

/** A connection just made: nothing heard yet but its own start. */
export function newConnection(ws: WebSocket, mode: Connection['mode'], decoder: FrameDecoder): Connection {
  return {
    ws, mode, decoder, exitCode: null, closeFrame: null, errorMessage: null, errorHint: null, localError: null,
    opened: false, streamUp: false, frames: 0, lastHeard: Date.now(), disposables: [], rendered: 0,
  };
}

/** Whether a connection has been silent past what its stage allows (it is then given up on). */
export function unanswered(conn: Connection, now: number): boolean {
  return now - conn.lastHeard > (conn.streamUp ? DEAD_AFTER_MS : DEAD_BEFORE_STREAM_MS);
}

/**
 * Sends a terminal frame. Before the socket opens there is no HELLO yet, so nothing may go ahead
 * of it; after it closes there is no one to hear. Either way the frame is dropped here (input
 * waits in the ledger).
 */
export function sendFrame(conn: Connection, frame: Uint8Array): void {
  if (conn.opened && conn.ws.readyState === WebSocket.OPEN) sendBinary(conn.ws, frame);
}

/** Each outgoing WebSocket message stays within one bridge frame (header included). */
const MAX_OUTGOING_DATA = MAX_FRAME_BYTES - 5;

/** Input as DATA frames, each within one bridge frame so a large paste is split. */
export function sendInput(conn: Connection, chunks: readonly Uint8Array[]): void {
  for (const bytes of chunks) {
    for (let off = 0; off < bytes.length; off += MAX_OUTGOING_DATA) {
      sendFrame(conn, encodeFrame({ type: 'data', data: bytes.subarray(off, off + MAX_OUTGOING_DATA) }));
    }
  }
}

/** A ping to the console server; its pong gives the round trip and shows the connection alive. */
export function sendPing(conn: Connection): void {
  if (conn.ws.readyState !== WebSocket.OPEN) return;
  const req: ConsoleRequest = { type: 'ping', t: performance.now() };
  conn.ws.send(JSON.stringify(req));
}
