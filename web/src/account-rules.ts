/**
 * What the console API accepts for an account, checked in the browser first so that a person reads
 * what is wrong, in words, before anything is sent. The limits are the server's
 * (server/bff/api-routes.ts, its zod schema PASSWORD); the server checks again.
 */

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** What is wrong with `password` as a new password (`what` names it in the sentence), or null. */
export function passwordProblem(password: string, what: string): string | null {
  if (password.length < PASSWORD_MIN) return `${what} must be at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX) return `${what} must be at most ${PASSWORD_MAX} characters.`;
  return null;
}
