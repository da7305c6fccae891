/**
 * The console's terminal WebSocket (browser ⇄ BFF, `/api/terminal?deviceId=…[&session=ID]`).
 * Binary frames are terminal-protocol bytes passed through to and from the device's shell server.
 * Text frames carry the BFF's status messages below, so the page can show each step and, at the
 * end, why. Browser-safe.
 *
 * Resumable sessions (terminal protocol version 2): the BFF keeps each session's secret in the
 * store and gives the browser only the session id — it strips the secret from the shell server's
 * SESSION frame, and puts it into the attach HELLO of a browser that names `session=ID` in the
 * socket URL (its own session, on that device; the HELLO carries no secret and must name the same
 * id). Everything else passes through unchanged.
 */

/** BFF → browser text messages. */
export type ConsoleStatus =
  /** The BFF asked the hub for a stream to the device. */
  | { type: 'status'; phase: 'requesting' }
  /** The device accepted; the BFF is connecting to the streaming endpoint. */
  | { type: 'status'; phase: 'accepted'; streamId: string }
  /** Bytes flow end to end. */
  | { type: 'status'; phase: 'connected'; streamId: string }
  /** Round-trip reply to a browser ping (latency display). */
  | { type: 'pong'; t: number }
  /**
   * Why the session could not start or ended, as a whole sentence; the socket closes right after
   * with `code`. `hint` says what would fix the cause, when something would.
   */
  | { type: 'error'; code: ConsoleCloseCodeValue; message: string; hint?: string };

/** Browser → BFF text messages. */
export type ConsoleRequest = { type: 'ping'; t: number };

/** Close codes of the console's terminal socket, each with a sentence for the status line. */
export const ConsoleCloseCode = {
  /** The shell exited (its EXIT frame went before) or the device closed the stream cleanly. */
  Normal: 1000,
  /** The device is connected but refused the stream. */
  Rejected: 4100,
  /** The device is not connected (said at once when the registry shows it offline, else after the connect timeout). */
  Offline: 4101,
  /** The device did not answer in time, or the stream did not connect in time. */
  Timeout: 4102,
  /** The operator's role may not open terminals, or the session ended (logout). */
  Forbidden: 4103,
  /** No such device. */
  NotFound: 4104,
  /** The stream to the device dropped. */
  ConnectionLost: 4105,
  /** Throttled by the hub: too many streams. */
  Busy: 4106,
  /** The BFF hit an unexpected error. */
  Internal: 4107,
  /** The operator logged out (this or another tab), or the login session ended. */
  LoggedOut: 4108,
  /** An admin changed the operator's role or password, or removed the account. */
  Revoked: 4109,
  /**
   * The resumable session is gone: left detached past its timeout, its shell exited, ended by an
   * admin, or unknown to the device (its shell server restarted). Reconnecting will not bring it back.
   */
  SessionEnded: 4110,
  /** The session was reattached from another tab or window, which has it now. */
  TakenOver: 4111,
  /** The device is disabled in the registry: no stream reaches it until it is enabled. */
  Disabled: 4112,
} as const;

export type ConsoleCloseCodeValue = (typeof ConsoleCloseCode)[keyof typeof ConsoleCloseCode];

/** Close codes after which reconnecting to a terminal session cannot help (the session or the access is gone). */
export const FINAL_CONSOLE_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  ConsoleCloseCode.Rejected,
  ConsoleCloseCode.Forbidden,
  ConsoleCloseCode.NotFound,
  ConsoleCloseCode.LoggedOut,
  ConsoleCloseCode.Revoked,
  ConsoleCloseCode.SessionEnded,
  ConsoleCloseCode.TakenOver,
]);

/** Parses a BFF status message; undefined for anything that is not one. */
export function parseConsoleStatus(text: string): ConsoleStatus | undefined {
  try {
    const v = JSON.parse(text) as { type?: unknown };
    if (v !== null && typeof v === 'object' && (v.type === 'status' || v.type === 'pong' || v.type === 'error')) return v as ConsoleStatus;
  } catch {
    // not JSON
  }
  return undefined;
}
