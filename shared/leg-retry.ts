/**
 * How a resumable stream's side asks for a new leg after losing one (node-only): every quarter
 * second (jittered) while a restart is likely to be over soon, then further apart, until it has a
 * leg, the hub says the stream cannot come back, or the stream is given up meanwhile.
 */
import type { WebSocket } from 'ws';

/** A side asks for a new leg every RETRY_FIRST_MS (jittered) for RETRY_QUICK_MS, then doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 250;
const RETRY_QUICK_MS = 5000;
const RETRY_MAX_MS = 5000;

export type LegRetryOutcome = { leg: WebSocket } | { fatal: Error } | { stopped: true };

export interface LegRetryOptions {
  reconnect: () => Promise<WebSocket>;
  /** Errors that mean the stream cannot come back (it ended, the key is wrong). */
  isFatal?: ((err: unknown) => boolean) | undefined;
  /** Whether the stream was given up meanwhile (no more attempts). */
  stopped: () => boolean;
}

export async function retryLeg(o: LegRetryOptions): Promise<LegRetryOutcome> {
  const since = Date.now();
  let delay = RETRY_FIRST_MS;
  while (!o.stopped()) {
    try {
      return { leg: await o.reconnect() };
    } catch (err) {
      if (o.isFatal?.(err) === true) return { fatal: err instanceof Error ? err : new Error(String(err)) };
    }
    // Jittered, so the sides of many streams do not all come back in the same instant.
    await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
    delay = Date.now() - since < RETRY_QUICK_MS ? RETRY_FIRST_MS : Math.min(delay * 2, RETRY_MAX_MS);
  }
  return { stopped: true };
}
