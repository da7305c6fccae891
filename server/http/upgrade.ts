/** Helpers for authenticating WebSocket upgrades before a socket exists. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './respond.js';
import { DsError, ErrorCode } from '../../shared/errors.js';

/** Answers an upgrade request with an HTTP error (Azure-shaped JSON body) and closes the socket. */
export function rejectUpgrade(socket: Duplex, err: unknown): void {
  const { status, body, headers } = errorBody(err);
  const text = JSON.stringify(body);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Error'}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n${extra}\r\n${text}`,
  );
}

/**
 * Device-facing upgrades (control channel, bridges) come from agents and SDKs, never from a page:
 * a request that carries an Origin header is a browser being steered at the hub, so it is refused.
 */
export function refuseBrowserOrigin(req: IncomingMessage): void {
  if (req.headers.origin !== undefined) {
    throw new DsError(ErrorCode.Forbidden, 'browsers may not open this endpoint directly (Origin header present)');
  }
}
