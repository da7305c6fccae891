/**
 * Closing a WebSocket with a bound on the closing handshake (node-only, `ws`). The socket is read
 * again first (flow control may have paused it, and the peer's close reply must be seen); a peer
 * that does not answer within `graceMs` is cut off. The cut-off timer goes when the socket closes,
 * so a closed socket is not kept alive by it. A code no close frame may carry becomes 4011 (aborted).
 */
import type { WebSocket } from 'ws';
import { CloseCode } from './close-codes.js';

/** Whether a close frame may carry `code` (RFC 6455 §7.4: 1005, 1006, 1015 and others are only ever observed). */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The longest start of `text` whose UTF-8 form fits `bytes`, cut between characters. */
export function utf8Prefix(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/** Most bytes of a close reason (a control frame carries 125, two of them the code). */
const MAX_REASON_BYTES = 123;

export function closeWithin(ws: WebSocket, code: number, reason: string, graceMs: number): void {
  if (ws.readyState === ws.CLOSED) return;
  ws.resume();
  // A code that was observed (a recorded 1006, say) cannot be sent: ws would throw; so would a
  // reason past 123 bytes (a path with accents or CJK in it passes 120 characters' bytes).
  ws.close(sendable(code) ? code : CloseCode.Aborted, utf8Prefix(reason, MAX_REASON_BYTES));
  const timer = setTimeout(() => ws.terminate(), graceMs);
  timer.unref();
  ws.once('close', () => clearTimeout(timer));
}

/** Resolves once `ws` is closed (at once when it is). */
export function wsClosed(ws: WebSocket): Promise<void> {
  return ws.readyState === ws.CLOSED ? Promise.resolve() : new Promise((resolve) => ws.once('close', () => resolve()));
}
