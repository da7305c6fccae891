import { useId, useState, type FormEvent } from 'react';
import { useChangeOwnPassword } from '../hooks/use-operators';

/** Where the own row's "change it here" link points. */
export const CHANGE_PASSWORD_ID = 'change-password';

/** What the form says is wrong before asking the server, or null. */
function localProblem(next: string, again: string): string | null {
  if (next.length < 8) return 'The new password must be at least 8 characters.';
  if (next !== again) return 'The two new passwords differ; type the same one twice.';
  return null;
}

/**
 * Your own password: the current one proves it is you, the new one twice catches a typo. The
 * server ends the account's other sessions and keeps this one (it sends a new cookie).
 */
export function ChangePasswordForm() {
  const id = useId();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const change = useChangeOwnPassword();

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    setDone(false);
    const local = localProblem(next, again);
    setProblem(local);
    if (local !== null) return;
    change.mutate(
      { currentPassword: current, newPassword: next },
      {
        onSuccess: () => {
          setCurrent('');
          setNext('');
          setAgain('');
          setDone(true);
        },
      },
    );
  };
  const error = problem ?? (change.isError ? change.error.message : null);

  return (
    <form id={CHANGE_PASSWORD_ID} className="filters" aria-label="Change your password" onSubmit={submit} tabIndex={-1}>
      <h2 className="form-title">Your password</h2>
      <div className="field">
        <label htmlFor={`${id}-current`}>Current password</label>
        <input id={`${id}-current`} type="password" value={current} required autoComplete="current-password" onChange={(e) => setCurrent(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-new`}>New password</label>
        <input id={`${id}-new`} type="password" value={next} required minLength={8} autoComplete="new-password" onChange={(e) => setNext(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-again`}>New password again</label>
        <input id={`${id}-again`} type="password" value={again} required minLength={8} autoComplete="new-password" onChange={(e) => setAgain(e.target.value)} />
      </div>
      <button type="submit" className="button button-primary" disabled={change.isPending}>
        Change password
      </button>
      {error !== null && (
        <p className="form-error" role="alert">
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
