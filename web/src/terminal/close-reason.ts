/**
 * Turns the end of a terminal socket into the sentence the status line shows, and into the tone
 * the ended view takes (a clean exit does not look like a failure). Pure, so every close code of
 * shared/console-protocol.ts is easy to test.
 *
 * The console server's `error` message is a whole sentence and is shown as it is; the sentences
 * here are for ends it did not explain (a dropped connection, a refused upgrade), and lead a bare
 * close reason. One layer words each message, so nothing is said twice.
 */
import { ConsoleCloseCode } from '../../../shared/console-protocol';

/** What is known when the terminal socket closes. */
export interface TerminalCloseInfo {
  /** The WebSocket close code (1006 when the connection dropped without a close frame). */
  code: number;
  /** The close frame's reason text, often empty. */
  reason: string;
  /** The shell's exit code when an EXIT frame arrived before the close. */
  exitCode: number | null;
  /** The `message` of the last `{type:'error'}` text frame, when there was one. */
  errorMessage: string | null;
  /** A failure found in the browser (a malformed frame), which wins over everything else. */
  localError: string | null;
}

/** A session another tab or window took over, as the console server says it (server/bff/terminal-socket.ts). */
export const TAKEN_OVER_SENTENCE = 'This terminal session was opened in another tab or window.';

/** The base sentence for each close code; the server's message, when there is one, follows it. */
const sentences: Record<number, string> = {
  [ConsoleCloseCode.Rejected]: 'Device rejected the terminal',
  [ConsoleCloseCode.Offline]: 'Device is offline',
  [ConsoleCloseCode.Timeout]: 'Timed out waiting for the device',
  [ConsoleCloseCode.Forbidden]: 'Not allowed to open a terminal',
  [ConsoleCloseCode.NotFound]: 'No such device',
  [ConsoleCloseCode.ConnectionLost]: 'Connection lost',
  [ConsoleCloseCode.Busy]: 'The hub is busy (too many streams); try again shortly',
  [ConsoleCloseCode.Internal]: 'The console server hit an unexpected error',
  [ConsoleCloseCode.LoggedOut]: 'Logged out',
  [ConsoleCloseCode.Revoked]: 'Your access changed',
  [ConsoleCloseCode.SessionEnded]: 'Session ended',
  [ConsoleCloseCode.TakenOver]: TAKEN_OVER_SENTENCE,
  [ConsoleCloseCode.Disabled]: 'Device is disabled',
  1001: 'The console server is going away',
  1006: 'Connection lost',
  1011: 'The console server hit an unexpected error',
};

function withDetail(base: string, detail: string | null): string {
  if (detail === null || detail.trim() === '') return base;
  const d = detail.trim();
  // Do not repeat the base sentence when the server already said it.
  if (d.toLowerCase().startsWith(base.toLowerCase())) return d;
  return `${base}: ${d}`;
}

/** The status line's sentence for a closed terminal. */
export function describeTerminalClose(info: TerminalCloseInfo): string {
  if (info.localError !== null) return info.localError;
  if (info.code === ConsoleCloseCode.Normal) {
    if (info.exitCode !== null) return `Shell exited with code ${info.exitCode}`;
    return withDetail('Session closed', info.errorMessage ?? info.reason);
  }
  if (info.errorMessage !== null && info.errorMessage.trim() !== '') return info.errorMessage.trim();
  return withDetail(sentences[info.code] ?? `Closed (code ${info.code})`, info.reason);
}

/**
 * How an ended terminal looks: `clean` when the shell exited 0 or the session closed normally,
 * `neutral` when it ended as asked but not cleanly (a non-zero exit, ended on the device),
 * `elsewhere` when the session goes on in another tab or window that took it over, `failed` when
 * it could not start or broke.
 */
export type EndTone = 'clean' | 'neutral' | 'elsewhere' | 'failed';

export function endTone(info: Pick<TerminalCloseInfo, 'code' | 'exitCode' | 'localError'>): EndTone {
  if (info.localError !== null) return 'failed';
  if (info.code === ConsoleCloseCode.Normal) return info.exitCode === null || info.exitCode === 0 ? 'clean' : 'neutral';
  if (info.code === ConsoleCloseCode.TakenOver) return 'elsewhere';
  if (info.code === ConsoleCloseCode.SessionEnded) return 'neutral';
  return 'failed';
}
