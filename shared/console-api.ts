/**
 * The console's REST API (browser ⇄ BFF), under `/api`, JSON, authenticated by the HttpOnly
 * session cookie. Shapes only, so the BFF and the SPA agree. Browser-safe.
 *
 *   POST /api/login   {username, password} → 200 Me (sets the cookie) | 401 | 429 (Retry-After)
 *   POST /api/logout  → 204 (ends the session and its terminals)
 *   GET  /api/me      → 200 Me | 401
 *   GET  /api/devices → 200 {devices: ConsoleDevice[]}
 *   GET  /api/devices/{id} → 200 ConsoleDevice | 404
 *   GET  /api/streams?deviceId=&result=&operator=&since=&until=&before=&limit= → 200 StreamPage
 *   WS   /api/terminal?deviceId=…&cols=…&rows=…  (see console-protocol.ts)
 *
 * Every error is `{ error: { code, message } }` with an HTTP status; `message` is a sentence
 * for the person at the screen. State-changing requests must carry the page's Origin.
 */

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
}

export interface StreamPage {
  streams: ConsoleStream[];
  /** Pass as `before` to get the next (older) page; null at the end. */
  nextBefore: number | null;
}

export interface ApiError {
  error: { code: string; message: string };
}
