/**
 * The console's terminal socket on the BFF side: the status it sends the page, how it fails and
 * closes, and the two first frames the bridge reads on the way (the page's HELLO, the shell
 * server's announcement) cut out of what has arrived. And the tap the recording hooks in with.
 */
import type { WebSocket } from 'ws';
import { ConsoleCloseCode, type ConsoleCloseCodeValue, type ConsoleStatus } from '../../shared/console-protocol.js';
import { SessionCloseCode, type TerminalFrame } from '../../shared/terminal-protocol.js';
import { closeWithin } from '../../shared/ws-close.js';

/** Sees the terminal frames going each way (for recording); must not block. */
export interface TerminalTap {
  /** The browser's frames (its HELLO as the browser sent it: without a secret). */
  fromBrowser(frames: readonly TerminalFrame[]): void;
  fromDevice(frames: readonly TerminalFrame[]): void;
  /** A direction could not be decoded any more (a malformed frame): nothing more is seen. */
  broken(reason: string): void;
  /** Output and input bytes of the session its recording holds (saved with a detached session). */
  offsets(): { output: number; input: number };
  /** The connection ended; `detached`: the session goes on without it. */
  end(detached?: boolean): void;
}

/** The first whole frame of `head` and what follows it; undefined while it is incomplete. */
export function firstFrame(head: Buffer): { frame: Buffer; rest: Buffer } | undefined {
  if (head.length < 5) return undefined;
  const end = 5 + head.readUInt32BE(1);
  if (head.length < end) return undefined;
  return { frame: head.subarray(0, end), rest: head.subarray(end) };
}

/** The console close code and sentence for a shell server's CLOSE frame. */
export function closeReason(f: { code: number; message: string }): [ConsoleCloseCodeValue, string] {
  if (f.code === SessionCloseCode.TakenOver) return [ConsoleCloseCode.TakenOver, 'This terminal session was opened in another tab or window.'];
  if (f.code === SessionCloseCode.Full) return [ConsoleCloseCode.Busy, f.message];
  return [ConsoleCloseCode.SessionEnded, f.message];
}

export function send(ws: WebSocket, msg: ConsoleStatus): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

export function fail(ws: WebSocket, code: ConsoleCloseCodeValue, message: string, hint?: string): void {
  send(ws, hint === undefined ? { type: 'error', code, message } : { type: 'error', code, message, hint });
  closeSocket(ws, code, message);
}

/** Closes the browser socket; it may be paused (flow control), so read again to see the reply. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState !== ws.OPEN) return;
  closeWithin(ws, code, reason, 5000);
}
