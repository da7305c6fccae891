import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Me } from '../../../shared/console-api';
import { logout, queryKeys } from '../api';
import { navigate, paths, type Route } from '../router';
import { Link } from './link';

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
  const current = (name: Route['name']) => (route.name === name ? ('page' as const) : undefined);
  return (
    <header className="app-header">
      {/* Plain text, not a link: a link named "DeviceStreams" would also match a search for "Devices". */}
      <span className="brand">
        <span className="brand-mark" aria-hidden="true">
          ⇄
        </span>
        DeviceStreams
      </span>
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
            <li>
              <Link to={paths.operators()} aria-current={current('operators')}>
                Operators
              </Link>
            </li>
          )}
        </ul>
      </nav>
      <div className="user">
        <span className="user-name">{me.name}</span>
        <span className={`role role-${me.role}`} title={`Role: ${me.role}`}>
          {me.role}
        </span>
        <button type="button" className="button button-quiet" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
          Log out
        </button>
      </div>
    </header>
  );
}
