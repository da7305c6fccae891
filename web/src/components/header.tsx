import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import type { Me } from '../../../shared/console-api';
import { logout, queryKeys } from '../api';
import { navigate, paths, useLocation, type Route } from '../router';
import { Link } from './link';

/** The header's links and account box; on narrow screens (styles.css) behind a Menu button. */
const MENU_ID = 'header-menu';

/** App name, navigation, the signed-in operator and Log out. */
export function Header({ me, route }: { me: Me; route: Route }) {
  const queryClient = useQueryClient();
  const signOut = useMutation({
    mutationFn: logout,
    onSettled: () => {
      // Whatever the server said, this tab forgets the session and every cached answer.
      navigate(paths.login(), { replace: true });
      queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== queryKeys.me()[0] });
      queryClient.setQueryData(queryKeys.me(), null);
    },
  });
  // On a phone the menu opens over the page; following one of its links closes it again.
  const [menuOpen, setMenuOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const { pathname } = useLocation();
  useEffect(() => setMenuOpen(false), [pathname]);
  const current = (name: Route['name']) => (route.name === name ? ('page' as const) : undefined);
  return (
    <header
      className={menuOpen ? 'app-header app-header-open' : 'app-header'}
      onKeyDown={(e) => {
        // Esc closes the open menu and puts focus back on its button.
        if (e.key !== 'Escape' || !menuOpen) return;
        setMenuOpen(false);
        menuButton.current?.focus();
      }}
    >
      {/* Plain text, not a link: a link named "DeviceStreams" would also match a search for "Devices". */}
      <span className="brand">
        <span className="brand-mark" aria-hidden="true">
          ⇄
        </span>
        <span className="brand-name">DeviceStreams</span>
      </span>
      <button ref={menuButton} type="button" className="button button-quiet menu-button" aria-expanded={menuOpen} aria-controls={MENU_ID} onClick={() => setMenuOpen(!menuOpen)}>
        <span aria-hidden="true">☰</span> Menu
      </button>
      <div className="header-menu" id={MENU_ID}>
        <nav aria-label="Main">
          <ul className="nav-list">
            <li>
              <Link to={paths.devices()} aria-current={current('devices') ?? current('terminal')}>
                Devices
              </Link>
            </li>
            <li>
              <Link to={paths.history()} aria-current={current('history') ?? current('replay') ?? current('watch')}>
                History
              </Link>
            </li>
            {me.role === 'admin' && (
              <>
                <li>
                  <Link to={paths.operators()} aria-current={current('operators')}>
                    Operators
                  </Link>
                </li>
                <li>
                  <Link to={paths.settings()} aria-current={current('settings')}>
                    Settings
                  </Link>
                </li>
              </>
            )}
          </ul>
        </nav>
        <div className="user">
          <Link to={paths.account()} className="user-name" aria-current={current('account')} aria-label={`${me.name}, your account`} title="Your account: change your password">
            {me.name}
          </Link>
          <span className={`role role-${me.role}`} title={`Role: ${me.role}`}>
            {me.role}
          </span>
          <button type="button" className="button button-quiet" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
            Log out
          </button>
        </div>
      </div>
    </header>
  );
}
