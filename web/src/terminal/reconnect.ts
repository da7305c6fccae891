/**
 * When a resumable terminal session's connection ends: whether to come back to it, and how long to
 * wait first. Pure, so every case is easy to test.
 */
import { ConsoleCloseCode, FINAL_CONSOLE_CLOSE_CODES } from '../../../shared/console-protocol';
import { SessionCloseCode } from '../../../shared/terminal-protocol';

/** What is known when a connection of a session ends. */
export interface ConnectionEnd {
  /** The WebSocket close code (1006 when it dropped without a close frame). */
  code: number;
  /** The shell's exit code, when EXIT arrived. */
  exitCode: number | null;
  /** The shell server's CLOSE frame code, when one arrived. */
  closeFrame: number | null;
  /** A malformed frame was found in the browser. */
  localError: boolean;
}

/**
 * Come back to the session? Not once the shell exited, the shell server let this connection go
 * (the session ended, or another page took it over), or the console refused for good (access, an
 * unknown device or session). Everything else — a dropped network, a console node going away, an
 * offline device, a busy hub, a stream that failed — may pass.
 */
export function shouldReconnect(end: ConnectionEnd): boolean {
  if (end.exitCode !== null || end.closeFrame !== null || end.localError) return false;
  if (end.code === ConsoleCloseCode.Normal) return false;
  return !FINAL_CONSOLE_CLOSE_CODES.has(end.code);
}

/** Whether a CLOSE frame means the session is over (as opposed to taken over by another page). */
export function sessionOver(closeFrame: number): boolean {
  return closeFrame !== SessionCloseCode.TakenOver;
}

/** First wait after a drop; it doubles each attempt up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 8000;

/** The wait before attempt `n` (0-based), with ±20 % jitter so many pages do not come back at once. */
export function backoffMs(n: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(n, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}
