/**
 * What a terminal page shows of its session (terminal-session.ts keeps it, the page renders it):
 * the phase, the status line and what the operator should know.
 */
import type { EndTone } from './close-reason';

/** Where the session is: opening the socket, the BFF's three steps, coming back after a drop, closed. */
export type SessionPhase = 'connecting' | 'requesting' | 'accepted' | 'connected' | 'reconnecting' | 'closed';

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
  /** The resumable session this terminal shows, once known. */
  sessionId: string | null;
  /**
   * The session reached the device's shell (the console server said "connected"), so the console
   * server is recording it: it starts the recording before it says so. Stays true once the session
   * ends, since what ran was recorded; false again for a new session.
   */
  recorded: boolean;
  /** Closed, and the session is over (its shell exited or was ended): only a new session helps. */
  ended: boolean;
  /** Closed, but the session may still be there (another page took it over): it can be reattached. */
  canReattach: boolean;
  /** Something the operator should know: a reattach, a gap in the output, keystrokes not sent. */
  notice: string | null;
  /** Once closed: what would fix the cause, when the console server said. */
  hint: string | null;
  /** Once closed: a clean end, a neutral one, or a failure (close-reason.ts). */
  tone: EndTone | null;
}

/** The state before anything has happened. */
export function initialSessionState(sessionId: string | null): SessionState {
  return { phase: 'connecting', message: 'Connecting…', rttMs: null, closeCode: null, opened: false, sessionId, recorded: false, ended: false, canReattach: false, notice: null, hint: null, tone: null };
}

/** The status line of each phase before the end. */
export const PHASE_MESSAGES: Record<Exclude<SessionPhase, 'closed'>, string> = {
  connecting: 'Connecting…',
  requesting: 'Requesting stream…',
  accepted: 'Device accepted',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
};

/** "1,234 bytes" for notices. */
export function bytesText(n: number): string {
  return `${n.toLocaleString('en-US')} byte${n === 1 ? '' : 's'}`;
}
