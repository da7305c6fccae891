import { lazy, Suspense, useEffect, useRef } from 'react';
import { Header } from './components/header';
import { Link } from './components/link';
import { ErrorState, LoadingState } from './components/states';
import { useMe } from './hooks/use-me';
import { AccountPage } from './pages/account-page';
import { DevicesPage } from './pages/devices-page';
import { HistoryPage } from './pages/history-page';
import { LoginPage } from './pages/login-page';
import { OperatorsPage } from './pages/operators-page';
import { SettingsPage } from './pages/settings-page';
import { matchRoute, navigate, paths, useLocation } from './router';

// xterm.js is most of the bundle; only the terminal, replay and live-watch pages need it.
const TerminalPage = lazy(() => import('./pages/terminal-page'));
// A viewer's terminal page has no terminal, so it does without xterm.
const NoTerminalPage = lazy(() => import('./pages/no-terminal-page'));
const ReplayPage = lazy(() => import('./pages/replay-page'));
const WatchPage = lazy(() => import('./pages/watch-page'));

/** The screens drawn dark, around a terminal. */
const darkRoutes: ReadonlySet<string> = new Set(['terminal', 'replay', 'watch']);

/** The shell: who is signed in, which screen the URL names, and the header around it. */
export function App() {
  const { pathname, search } = useLocation();
  const route = matchRoute(pathname);
  const me = useMe();

  // No session (first visit, expiry, a 401 anywhere, logout in another tab): to the login page,
  // remembering where the person was going.
  const signedOut = me.data === null;
  useEffect(() => {
    if (signedOut && route.name !== 'login') navigate(paths.login(pathname + search), { replace: true });
  }, [signedOut, route.name, pathname, search]);

  // After an in-app navigation, move focus to the new page (as a full page load would), so
  // keyboard and screen-reader users do not stay on a link that is gone: to the part a link's
  // fragment names (e.g. /account#change-password), else the page. On the page load itself the
  // browser leaves focus alone, and its own move to a fragment came before the page was drawn:
  // the fragment's part gets the focus once the page is there. The terminal page focuses the
  // terminal itself.
  const firstPath = useRef(pathname);
  const drawn = me.data !== undefined && me.data !== null;
  useEffect(() => {
    if (!drawn || route.name === 'terminal' || route.name === 'login') return;
    const pageLoad = pathname === firstPath.current;
    const fragment = window.location.hash.length > 1 ? document.getElementById(window.location.hash.slice(1)) : null;
    if (pageLoad) {
      fragment?.focus();
      return;
    }
    firstPath.current = '';
    (fragment ?? document.getElementById('main'))?.focus({ preventScroll: fragment === null });
  }, [pathname, route.name, drawn]);

  if (route.name === 'login') return <LoginPage />;
  if (me.isPending) {
    return (
      <main className="page page-center">
        <LoadingState>Loading…</LoadingState>
      </main>
    );
  }
  if (me.isError) {
    return (
      <main className="page page-center">
        <ErrorState title="Cannot reach the console." error={me.error} onRetry={() => void me.refetch()} />
      </main>
    );
  }
  if (me.data === null) return null;

  return (
    <div className={darkRoutes.has(route.name) ? 'app app-dark' : 'app'}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header me={me.data} route={route} />
      <div id="main" className="app-main" tabIndex={-1}>
        {route.name === 'devices' ? (
          <DevicesPage me={me.data} />
        ) : route.name === 'history' ? (
          <HistoryPage me={me.data} />
        ) : route.name === 'operators' ? (
          <OperatorsPage me={me.data} />
        ) : route.name === 'settings' ? (
          <SettingsPage me={me.data} />
        ) : route.name === 'account' ? (
          <AccountPage me={me.data} />
        ) : route.name === 'terminal' ? (
          <Suspense
            fallback={
              <main className="terminal-page">
                <LoadingState>Loading the terminal…</LoadingState>
              </main>
            }
          >
            {/* key: a different device is a different session, not an update of this one. */}
            {me.data.role === 'viewer' ? (
              <NoTerminalPage key={route.deviceId} deviceId={route.deviceId} />
            ) : (
              <TerminalPage key={route.deviceId} deviceId={route.deviceId} />
            )}
          </Suspense>
        ) : route.name === 'replay' || route.name === 'watch' ? (
          <Suspense
            fallback={
              <main className="terminal-page">
                <LoadingState>Loading the player…</LoadingState>
              </main>
            }
          >
            {/* key: another stream is another recording, not an update of this one. */}
            {route.name === 'replay' ? (
              <ReplayPage key={route.streamId} streamId={route.streamId} me={me.data} />
            ) : (
              <WatchPage key={route.streamId} streamId={route.streamId} me={me.data} />
            )}
          </Suspense>
        ) : (
          <main className="page">
            <h1>Page not found</h1>
            <p>
              There is nothing at <code>{pathname}</code>. <Link to={paths.devices()}>Go to the device list</Link>.
            </p>
          </main>
        )}
      </div>
    </div>
  );
}
