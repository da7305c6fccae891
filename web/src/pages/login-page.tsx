import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { isApiError, login, queryKeys } from '../api';
import { useCountdown } from '../hooks/use-countdown';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useMe } from '../hooks/use-me';
import { navigate, safeNext, useLocation } from '../router';

function loginErrorMessage(err: unknown, secondsLeft: number | null): string {
  if (isApiError(err, 429)) {
    if (secondsLeft === null) return 'Too many login attempts. Wait a minute and try again.';
    if (secondsLeft === 0) return 'Too many login attempts before; you can try again now.';
    return `Too many login attempts. Try again in ${secondsLeft} second${secondsLeft === 1 ? '' : 's'}.`;
  }
  if (err instanceof Error) return err.message;
  return 'Login failed.';
}

/** Username and password; on success, back to the page that sent the person here. */
export function LoginPage() {
  useDocumentTitle('Log in');
  const { search } = useLocation();
  const next = safeNext(search);
  const me = useMe();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // When the last attempt failed: the rate limit's wait counts from here.
  const [failedAt, setFailedAt] = useState(0);
  const signIn = useMutation({
    mutationFn: (v: { username: string; password: string }) => login(v.username, v.password),
    onError: () => setFailedAt(Date.now()),
    onSuccess: (who) => {
      queryClient.setQueryData(queryKeys.me(), who);
      navigate(next, { replace: true });
    },
  });

  // Already signed in (another tab, or a bookmark of /login): go on.
  useEffect(() => {
    if (me.data) navigate(next, { replace: true });
  }, [me.data, next]);

  // A rate-limited attempt: the time the server said to wait until, counted down on screen.
  const limitedError = isApiError(signIn.error, 429) ? signIn.error : null;
  const deadline = limitedError?.retryAfterSeconds != null ? failedAt + limitedError.retryAfterSeconds * 1000 : null;
  const secondsLeft = useCountdown(deadline);
  const waiting = secondsLeft !== null && secondsLeft > 0;

  // Each failed attempt (or blank submit) moves focus to the message, so it is read out and seen.
  const errorRef = useRef<HTMLParagraphElement>(null);
  const [blankSubmits, setBlankSubmits] = useState(0);
  // The mutation's error can render a moment after onError ran: wait for the message to be there.
  const errorShown = signIn.isError || blankSubmits > 0;
  useEffect(() => {
    if (errorShown) errorRef.current?.focus();
  }, [errorShown, failedAt, blankSubmits]);

  const [missing, setMissing] = useState(false);
  const onSubmit = (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault();
    if (signIn.isPending || waiting) return;
    const blank = username.trim() === '' || password === '';
    setMissing(blank);
    if (blank) setBlankSubmits((n) => n + 1);
    else signIn.mutate({ username: username.trim(), password });
  };
  const error = missing ? 'Enter your username and password.' : signIn.isError ? loginErrorMessage(signIn.error, secondsLeft) : null;

  return (
    <main className="login-page">
      <form className="login-card" onSubmit={onSubmit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">
          <span className="brand-mark" aria-hidden="true">
            ⇄
          </span>{' '}
          DeviceStreams
        </h1>
        <p className="muted">Log in to the operator console.</p>
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            type="text"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            required
            autoFocus
            aria-describedby={error !== null ? 'login-error' : undefined}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            aria-describedby={error !== null ? 'login-error' : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error !== null && (
          <p className="form-error" role="alert" id="login-error" ref={errorRef} tabIndex={-1}>
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={signIn.isPending || waiting} aria-busy={signIn.isPending}>
          Log in
        </button>
      </form>
    </main>
  );
}
