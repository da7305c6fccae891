/** The token-bucket arithmetic both engines use for `RateRepository.take`. */

/** The bucket after refilling from `updatedAt` to `now`, and whether a token can be taken. */
export function refill(tokens: number, updatedAt: number, now: number, perSecond: number): { tokens: number; wait: number } {
  const full = Math.min(perSecond, tokens + (Math.max(0, now - updatedAt) / 1000) * perSecond);
  return full >= 1 ? { tokens: full - 1, wait: 0 } : { tokens: full, wait: (1 - full) / perSecond };
}
