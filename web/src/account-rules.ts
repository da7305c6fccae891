/**
 * What the console API accepts for an account, checked in the browser first so that a person reads
 * what is wrong, in words, before anything is sent. The limits are the server's
 * (shared/account-limits.ts); the server checks again.
 */
import { OPERATOR_NAME_MAX, OPERATOR_NAME_PATTERN, PASSWORD_MAX, PASSWORD_MIN } from '../../shared/account-limits';

export { PASSWORD_MAX, PASSWORD_MIN };
export const NAME_MAX = OPERATOR_NAME_MAX;
const NAME_PATTERN = OPERATOR_NAME_PATTERN;
/** What a name may be, in words (beside the field, and in its message). */
export const NAME_RULE = `Up to ${NAME_MAX} letters, digits and . _ @ -`;

/** What is wrong with `password` as a new password (`what` names it in the sentence), or null. */
export function passwordProblem(password: string, what: string): string | null {
  if (password.length < PASSWORD_MIN) return `${what} must be at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX) return `${what} must be at most ${PASSWORD_MAX} characters.`;
  return null;
}

/** What is wrong with `name` as a new account's name, or null. */
export function nameProblem(name: string): string | null {
  if (name === '') return 'Type a name for the account.';
  if (name.length > NAME_MAX) return `The name is ${name.length} characters long; it may have at most ${NAME_MAX}.`;
  if (!NAME_PATTERN.test(name)) return `The name "${name}" has a character a name may not have: use only letters, digits and . _ @ -`;
  return null;
}
