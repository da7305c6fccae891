/**
 * The status line's sentence when the live-watch socket (`/api/terminal/watch`) closes. Pure, so
 * each close code is easy to test. The watch socket reuses the console's close codes
 * (shared/console-protocol.ts), but 4104 means "not live" there, not "no such device".
 */
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { describeTerminalClose } from './close-reason';

export interface WatchCloseInfo {
  code: number;
  reason: string;
  /** The shell's exit code, when an EXIT frame came before the close. */
  exitCode: number | null;
  /** The `message` of the last `{type:'error'}` text frame. */
  errorMessage: string | null;
  /** A failure found in the browser (a malformed frame). */
  localError: string | null;
  /** Whether the socket ever opened (a refused upgrade never does). */
  opened: boolean;
}

export const NOT_LIVE_MESSAGE = 'This session is not live any more';

export function describeWatchClose(info: WatchCloseInfo): string {
  if (info.localError !== null) return info.localError;
  if (info.exitCode !== null) return `Session ended (exit code ${info.exitCode})`;
  if (info.code === ConsoleCloseCode.Normal) return 'Session ended';
  if (info.code === ConsoleCloseCode.NotFound) return NOT_LIVE_MESSAGE;
  if (info.code === ConsoleCloseCode.Forbidden) return 'Your role may not watch live sessions; only admins can';
  // The server drops a watcher whose connection cannot keep up with the session.
  if (info.code === 1013) return 'This page fell too far behind the live session. Reconnect to catch up.';
  if (info.code === 1006 && !info.opened) return 'Could not connect to the live session (is your session still valid?)';
  return describeTerminalClose(info);
}
