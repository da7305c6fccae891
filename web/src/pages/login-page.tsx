import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { isApiError, login, queryKeys } from '../api';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useMe } from '../hooks/use-me';
import { navigate, safeNext, useLocation } from '../router';

function loginErrorMessage(err: unknown): string {
  if (isApiError(err, 429)) {
    const wait = err.retryAfterSeconds;
    return wait !== null
      ? `Too many login attempts. Try again in ${wait} second${wait === 1 ? '' : 's'}.`
      : 'Too many login attempts. Wait a minute and try again.';
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
  const signIn = useMutation({
    mutationFn: (v: { username: string; password: string }) => login(v.username, v.password),
    onSuccess: (who) => {
      queryClient.setQueryData(queryKeys.me(), who);
      navigate(next, { replace: true });
    },
  });

  // Already signed in (another tab, or a bookmark of /login): go on.
  useEffect(() => {
    if (me.data) navigate(next, { replace: true });
  }, [me.data, next]);

  const [missing, setMissing] = useState(false);
  const onSubmit = (ev: FormEvent<HTMLFormElement>) => {
    ev.preventDefault();
    if (signIn.isPending) return;
    const blank = username.trim() === '' || password === '';
    setMissing(blank);
    if (!blank) signIn.mutate({ username: username.trim(), password });
  };
  const error = missing ? 'Enter your username and password.' : signIn.isError ? loginErrorMessage(signIn.error) : null;

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
          <p className="form-error" role="alert" id="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={signIn.isPending} aria-busy={signIn.isPending}>
          Log in
        </button>
      </form>
    </main>
  );
}
