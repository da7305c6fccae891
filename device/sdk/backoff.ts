/** Exponential backoff with full jitter, capped: delay = random(0, min(cap, base · 2^attempt)). */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
  // Never less than a tenth of the ceiling, so a burst of devices cannot hammer the hub at 0 ms.
  return Math.round(ceiling * (0.1 + 0.9 * (o.random ?? Math.random)()));
}
