/**
 * Closing a WebSocket with a bound on the closing handshake (node-only, `ws`). The socket is read
 * again first (flow control may have paused it, and the peer's close reply must be seen); a peer
 * that does not answer within `graceMs` is cut off. The cut-off timer goes when the socket closes,
 * so a closed socket is not kept alive by it.
 */
import type { WebSocket } from 'ws';

export function closeWithin(ws: WebSocket, code: number, reason: string, graceMs: number): void {
  if (ws.readyState === ws.CLOSED) return;
  ws.resume();
  ws.close(code, reason.slice(0, 120));
  const timer = setTimeout(() => ws.terminate(), graceMs);
  timer.unref();
  ws.once('close', () => clearTimeout(timer));
}
