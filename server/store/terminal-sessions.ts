/**
 * Resumable terminal sessions the console knows of (see shared/terminal-protocol.ts, version 2):
 * which shell-server session belongs to which operator on which device, the secret that reattaches
 * it (kept here, never given to the browser, so any console node can reattach), which connection
 * holds it now, and when a detached one expires. A console node writes a row when the shell server
 * announces a session and deletes it when the session ends.
 */

export interface TerminalSessionRow {
  /** The shell server's session id (32 hex digits). */
  sessionId: string;
  deviceId: string;
  operator: string;
  /** The owning account's id: only that account (or an admin) may reattach or end it. */
  operatorId: string;
  /** The shell server's secret for the session, base64url. */
  secret: string;
  /** The recording every connection of the session appends to (the stream id of the first). */
  recordingId: string | null;
  /** The stream that carries (or last carried) it, and the console node that bridges (bridged) it. */
  streamId: string;
  node: string;
  /** Counts attaches; a detach names the attach it ends, so a late one cannot undo a newer attach. */
  attachSeq: number;
  attached: boolean;
  createdAt: number;
  /** While detached: since when, and when the shell server ends it. */
  detachedAt: number | null;
  expiresAt: number | null;
  detachTimeoutMs: number;
  /** Output and input bytes of the session the recording holds (a resumed recording skips them). */
  outputRecorded: number;
  inputRecorded: number;
}

export interface NewTerminalSession {
  sessionId: string;
  deviceId: string;
  operator: string;
  operatorId: string;
  secret: string;
  recordingId: string | null;
  streamId: string;
  node: string;
  createdAt: number;
  detachTimeoutMs: number;
}

export interface TerminalSessionDetach {
  at: number;
  expiresAt: number;
  outputRecorded: number;
  inputRecorded: number;
}

export interface TerminalSessionRepository {
  /** Records a session just announced, attached (attach 1) through `streamId` on `node`. */
  create(s: NewTerminalSession): Promise<void>;
  get(sessionId: string): Promise<TerminalSessionRow | undefined>;
  /** A new connection holds the session; returns its attach number, undefined when the row is gone. */
  attach(sessionId: string, node: string, streamId: string, at: number): Promise<number | undefined>;
  /** Attach `seq` ended; false (and nothing changed) when a newer attach holds the session. */
  detach(sessionId: string, seq: number, d: TerminalSessionDetach): Promise<boolean>;
  /** Sessions not expired at `now`, of one operator or of everyone, newest first. */
  list(q: { operatorId?: string | undefined; now: number; limit: number }): Promise<TerminalSessionRow[]>;
  delete(sessionId: string): Promise<boolean>;
  /**
   * Sessions `node` held attached are detached from `at` (the node restarted or died: its
   * connections are gone); returns how many.
   */
  detachNode(node: string, at: number): Promise<number>;
  /** Deletes the sessions that expired before `now`; returns how many. */
  deleteExpired(now: number): Promise<number>;
}
