import { passwordProblem } from '../account-rules';

/** The fields of the own-password form. */
export type PasswordField = 'current' | 'next' | 'again';

/** What is wrong, and in which field (it is marked invalid and takes the focus). */
export interface PasswordFormProblem {
  field: PasswordField;
  message: string;
}

/**
 * What the own-password form says is wrong before asking the server, or null. A new password equal
 * to the current one is refused here: the server would take it, and nothing would have changed.
 */
export function passwordFormProblem(current: string, next: string, again: string): PasswordFormProblem | null {
  if (current === '') return { field: 'current', message: 'Type your current password first.' };
  const length = passwordProblem(next, 'The new password');
  if (length !== null) return { field: 'next', message: length };
  if (next !== again) return { field: 'again', message: 'The two new passwords differ; type the same one twice.' };
  if (next === current) return { field: 'next', message: 'The new password is the same as your current one; choose another.' };
  return null;
}
