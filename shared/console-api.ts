/**
 * The console's REST API (browser ⇄ BFF), under `/api`, JSON, authenticated by the HttpOnly
 * session cookie. Shapes only, so the BFF and the SPA agree. Browser-safe.
 *
 *   POST /api/login   {username, password} → 200 Me (sets the cookie) | 401 | 429 (Retry-After)
 *   POST /api/logout  → 204 (ends the session and its terminals)
 *   GET  /api/me      → 200 Me | 401
 *   POST /api/me/password {currentPassword, newPassword} → 200 Me (a new session cookie: every
 *        session of the account ends, this one is re-issued) | 403 wrong_password | 429 (Retry-After)
 *        An admin's reset of their own account (PATCH /api/operators/{own name} with a password) is 400.
 *   GET  /api/devices?search=&status=enabled|disabled&online=true|false&cursor=&limit=
 *        → 200 DevicePage | 400 (a parameter it does not know, gives twice or cannot read)
 *        One page of the registry in id order (limit 1–200, default 50): `search` is part of the
 *        id, any case; `cursor` is the previous page's `nextCursor`, opaque (the hub's
 *        continuation). An empty value is the same as leaving the parameter out.
 *   GET  /api/fleet/summary → 200 DeviceSummary (the whole fleet's counts)
 *   GET  /api/fleet/events  → 200 text/event-stream: `event: changed` with data
 *        DeviceEventBatch whenever devices change (coalesced by the hub, about 4 a second at
 *        most); `event: end` with data DeviceEventsEnd when the server ends the stream (logout,
 *        account changed); a comment line every 15 s. 401 without a session, 429 when this
 *        session already has too many open, 503 when the console has too many. A connection
 *        that does not read what it is sent is cut off. (These two paths shadow the device ids
 *        "summary" and "events" for the route below.)
 *   GET  /api/devices/{id} → 200 ConsoleDevice | 404
 *   POST /api/enrollment-tokens {target, tags, maps, ttlSeconds} (shared/enrollment.ts) → 200
 *        ConsoleEnrollmentToken | 400 naming the field | 403 unless admin | 409 enrollment_refused
 *        (the device has an agent connected, or is disabled). "Add device": a one-use token and
 *        the line to paste on the device.
 *   GET  /api/streams?deviceId=&result=&operator=&since=&until=&before=&beforeId=&limit= → 200 StreamPage
 *        Newest first; the next page: `before` = nextBefore and `beforeId` = nextBeforeId.
 *   WS   /api/terminal?deviceId=…&cols=…&rows=…[&session=ID]  (see console-protocol.ts)
 *   POST /api/apps/handoff {deviceId, service} → 200 AppHandoff | 400 (no app origin fits the
 *        pair) | 403 for viewers. A link to open on the app's own origin, good once within 60 s
 *        (server/apps/; shared/app-origin.ts names the origin).
 *
 * Resumable terminal sessions (kept by the device's shell server for its detach timeout when the
 * page's connection drops; the console reattaches with `session=ID`):
 *   GET    /api/terminal-sessions[?all=true] → 200 TerminalSessionList: the caller's sessions, or
 *          with all=true (admins only, else 403) everyone's; newest first, at most 200
 *   DELETE /api/terminal-sessions/{id}      → 204 | 403 unless its owner or an admin | 404 |
 *          502 when the device cannot be reached (the shell then ends at its detach timeout)
 *
 * Session recordings (asciicast v2 files, one per terminal stream):
 *   GET    /api/recordings/{streamId}       → 200 RecordingInfo | 404   (any role)
 *   GET    /api/recordings/{streamId}/cast  → 200 the .cast file (application/x-asciicast, attachment)
 *   DELETE /api/recordings/{streamId}       → 204 | 403 unless admin
 *   GET    /api/settings                    → 200 ConsoleSettings (any role)
 *   PUT    /api/settings  ConsoleSettings   → 200 ConsoleSettings | 403 unless admin
 *   WS     /api/terminal/watch?streamId=…   admin only: a live session, read-only. The server sends
 *          binary terminal-protocol frames (RESIZE with the session's size first, then DATA with the
 *          output so far, then live DATA/RESIZE/EXIT); anything the watcher sends is dropped. Text
 *          frames are ConsoleStatus; it closes 1000 when the session ends, 4104 if it is not live.
 *
 * Every error is `{ error: { code, message } }` with an HTTP status; `message` is a sentence
 * for the person at the screen. State-changing requests must carry the page's Origin.
 */
import type { EnrollmentTokenCreated } from './enrollment.js';
import type { TransferSummary } from './transfer.js';

export type Role = 'admin' | 'operator' | 'viewer';

export interface Me {
  name: string;
  role: Role;
}

export interface ConsoleDevice {
  deviceId: string;
  status: 'enabled' | 'disabled';
  online: boolean;
  /** ISO time, or null when never seen. */
  lastActivityTime: string | null;
  /** ISO time the device's current connection began; null while it is offline. */
  connectedSince: string | null;
  /** What its agent said it runs when it last connected (`devicestreams-agent/0.1.0`); null if never. */
  agent: string | null;
  /** The stream names its agent said it serves (`shell`, `files`, `http`…); null when it has not said (an older agent). */
  services: string[] | null;
}

/** "Add device": what the admin pastes on the device, and until when it works (the token only inside the command). */
export type ConsoleEnrollmentToken = Omit<EnrollmentTokenCreated, 'tokenId' | 'token'>;

/** One page of the device list. */
export interface DevicePage {
  devices: ConsoleDevice[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Counts of the whole fleet. */
export interface DeviceSummary {
  registered: number;
  enabled: number;
  disabled: number;
  /** Connected right now. */
  online: number;
}

/**
 * What changed in the fleet (`event: changed` on /api/fleet/events): these devices (created,
 * changed, deleted, connected or disconnected), or too many to name — read what you show again.
 */
export type DeviceEventBatch = { deviceIds: string[] } | { many: true };

/** Why the server ended /api/fleet/events (`event: end`); `code` is a ConsoleCloseCode. */
export interface DeviceEventsEnd {
  code: number;
  message: string;
}

export interface ConsoleStream {
  streamId: string;
  deviceId: string;
  streamName: string;
  /** The console operator who opened it, or null for streams opened by other clients. */
  operator: string | null;
  initiator: string;
  state: 'pending' | 'accepted' | 'open' | 'ended';
  result: string | null;
  reason: string | null;
  createdAt: string;
  endedAt: string | null;
  durationMs: number | null;
  closedBy: string | null;
  closeCode: number | null;
  bytesToDevice: number;
  bytesFromDevice: number;
  /** A file transfer: direction, the path on the device, and the bytes that went its way; null for other streams. */
  transfer: TransferSummary | null;
  /** The session recording, when there is one (terminal streams opened from the console). */
  recording: { size: number; truncated: boolean; live: boolean } | null;
}

export interface StreamPage {
  streams: ConsoleStream[];
  /** Pass as `before` to get the next (older) page; null at the end. */
  nextBefore: number | null;
  /**
   * Pass as `beforeId` with `before`: the last row's id, so that rows created in the same
   * millisecond as it are neither skipped nor repeated. Null at the end.
   */
  nextBeforeId: string | null;
}

/** What the history row and the player know about a recording. */
export interface RecordingInfo {
  streamId: string;
  deviceId: string;
  operator: string | null;
  /** ISO time the session started. */
  startedAt: string;
  /** Recorded time so far (or in all, once ended), milliseconds. */
  durationMs: number;
  /** Size of the .cast file in bytes. */
  size: number;
  /** The recording stopped at the size budget; the session itself went on. */
  truncated: boolean;
  /** Keystrokes were recorded too (only when an admin turned input recording on). */
  inputRecorded: boolean;
  /** The session is still going on (an admin may watch it live). */
  live: boolean;
  /** Terminal size at the start. */
  cols: number;
  rows: number;
}

/** A resumable terminal session as the console lists it (never its secret). */
export interface TerminalSessionInfo {
  sessionId: string;
  deviceId: string;
  operator: string;
  /** ISO time it started. */
  createdAt: string;
  /** A page has it open now. */
  attached: boolean;
  /** While detached: since when, and when the device ends it (ISO times). */
  detachedAt: string | null;
  expiresAt: string | null;
  /** The stream id of its recording (replay, live watch), when it is recorded. */
  recordingId: string | null;
}

export interface TerminalSessionList {
  sessions: TerminalSessionInfo[];
}

export interface ConsoleSettings {
  /** Record keystrokes as well as output (off by default: passwords are typed into terminals). */
  recordInput: boolean;
}

export interface ApiError {
  error: { code: string; message: string };
}

/** A device app to open: `url` is on the app's own origin and is good once, until `expiresAt`. */
export interface AppHandoff {
  url: string;
  origin: string;
  expiresAt: string;
}
