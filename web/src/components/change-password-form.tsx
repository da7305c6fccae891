import { useId, useRef, useState, type FormEvent } from 'react';
import { PASSWORD_MAX } from '../account-rules';
import { useChangeOwnPassword } from '../hooks/use-operators';
import { passwordFormProblem, type PasswordField, type PasswordFormProblem } from './change-password-checks';

/** Where the own row's "change it here" link points. */
export const CHANGE_PASSWORD_ID = 'change-password';

/**
 * Your own password: the current one proves it is you, the new one twice catches a typo. The
 * server ends the account's other sessions and keeps this one (it sends a new cookie).
 *
 * The form checks its input itself (noValidate): the browser's own checks would stop a submit
 * without a word in the form's message, which then still spoke of the input before. A message goes
 * as soon as the input changes.
 */
export function ChangePasswordForm() {
  const id = useId();
  const errorId = `${id}-error`;
  const [values, setValues] = useState<Record<PasswordField, string>>({ current: '', next: '', again: '' });
  const [problem, setProblem] = useState<PasswordFormProblem | null>(null);
  const [done, setDone] = useState(false);
  const inputs = useRef<Partial<Record<PasswordField, HTMLInputElement | null>>>({});
  const change = useChangeOwnPassword();

  const edit = (field: PasswordField, value: string): void => {
    setValues((v) => ({ ...v, [field]: value }));
    setProblem(null);
    if (change.isError) change.reset();
  };
  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    setDone(false);
    const local = passwordFormProblem(values.current, values.next, values.again);
    setProblem(local);
    if (local !== null) {
      inputs.current[local.field]?.focus();
      return;
    }
    change.mutate(
      { currentPassword: values.current, newPassword: values.next },
      {
        onSuccess: () => {
          setValues({ current: '', next: '', again: '' });
          setDone(true);
        },
      },
    );
  };
  const error = problem?.message ?? (change.isError ? change.error.message : null);
  const field = (name: PasswordField, label: string, autoComplete: string) => (
    <div className="field">
      <label htmlFor={`${id}-${name}`}>{label}</label>
      <input
        ref={(el) => {
          inputs.current[name] = el;
        }}
        id={`${id}-${name}`}
        type="password"
        value={values[name]}
        required
        maxLength={PASSWORD_MAX}
        autoComplete={autoComplete}
        aria-invalid={problem?.field === name ? true : undefined}
        aria-describedby={problem?.field === name ? errorId : undefined}
        onChange={(e) => edit(name, e.target.value)}
      />
    </div>
  );

  return (
    <form id={CHANGE_PASSWORD_ID} className="filters" aria-label="Change your password" onSubmit={submit} tabIndex={-1} noValidate>
      <h2 className="form-title">Your password</h2>
      {field('current', 'Current password', 'current-password')}
      {field('next', 'New password', 'new-password')}
      {field('again', 'New password again', 'new-password')}
      <button type="submit" className="button button-primary" disabled={change.isPending}>
        Change password
      </button>
      {error !== null && (
        <p id={errorId} className="form-error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p className="sub" role="status">
          Your password was changed. Your other sessions have ended; this one stays logged in.
        </p>
      )}
    </form>
  );
}
