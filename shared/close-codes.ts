/**
 * WebSocket close codes used on the control channel and on stream bridges. 1xxx are the RFC 6455
 * codes; 4xxx are ours and each has a sentence a client can show. Browser-safe.
 */
export const CloseCode = {
  /** Clean end: the other side closed normally. */
  Normal: 1000,
  /** The server is going away (shutdown). */
  GoingAway: 1001,
  /** A frame was larger than the limit (ws closes with this itself). */
  MessageTooBig: 1009,
  /** Something failed inside the server. */
  InternalError: 1011,
  /** The other side of the stream dropped without a clean close. */
  PeerDropped: 4001,
  /** Both sides did not connect within the handshake deadline. */
  HandshakeTimeout: 4002,
  /** A newer control connection for the same device replaced this one. */
  Replaced: 4003,
  /** The device was disabled or deleted in the registry. */
  DeviceRevoked: 4004,
  /** A control message did not decode, or came out of order. */
  ProtocolError: 4005,
  /** The SAS token behind this connection expired; reconnect with a fresh one. */
  TokenExpired: 4006,
  /** The hub restarted or stopped while the stream was live. */
  HubShutdown: 4007,
  /** The peer stopped answering heartbeats. */
  HeartbeatTimeout: 4008,
  /** v2: the other side's connection was lost; come back with a resume credential and go on. */
  PeerInterrupted: 4009,
  /** v2: the stream stayed interrupted longer than its resume window and has ended. */
  ResumeTimeout: 4010,
  /** v2: the other side ended the stream abnormally (its local connection failed); do not resume. */
  Aborted: 4011,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

const reasons: Record<number, string> = {
  1000: 'closed normally',
  1001: 'server going away',
  1006: 'connection lost',
  1009: 'frame larger than 64 KiB',
  1011: 'internal error',
  4001: 'the other side dropped',
  4002: 'handshake timed out',
  4003: 'replaced by a newer connection',
  4004: 'device disabled or deleted',
  4005: 'protocol error',
  4006: 'token expired',
  4007: 'hub shut down',
  4008: 'heartbeat timed out',
  4009: 'the other side was interrupted; resuming',
  4010: 'not resumed within the resume window',
  4011: 'the other side ended the stream abnormally',
};

/** A readable sentence for a close code, for logs and the console. */
export function describeClose(code: number, reason?: string): string {
  const base = reasons[code] ?? `closed with code ${code}`;
  return reason !== undefined && reason !== '' && reason !== base ? `${base}: ${reason}` : base;
}
