/**
 * Client-side routing on the History API: a location hook, `navigate()`, and the route table.
 * The app has four screens, so a router package would be more code than it saves.
 */
import { useSyncExternalStore } from 'react';

/** Fired on window after pushState/replaceState, which (unlike back/forward) raise no event. */
const NAVIGATE_EVENT = 'devicestreams:navigate';

/** Goes to a same-origin path (with its query); `replace` rewrites the current history entry. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (options.replace === true) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE_EVENT, onChange);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path and query, re-rendering on every navigation. */
export function useLocation(): { pathname: string; search: string } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const q = href.indexOf('?');
  return q === -1 ? { pathname: href, search: '' } : { pathname: href.slice(0, q), search: href.slice(q) };
}

export type Route =
  | { name: 'login' }
  | { name: 'devices' }
  | { name: 'terminal'; deviceId: string }
  | { name: 'history' }
  | { name: 'notFound' };

/** Maps a pathname to a screen. Device ids may hold `%`, `?` and the like, so they are URI-encoded. */
export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path === '/' || path === '/devices') return { name: 'devices' };
  if (path === '/login') return { name: 'login' };
  if (path === '/history') return { name: 'history' };
  const m = /^\/terminal\/([^/]+)$/.exec(path);
  if (m?.[1] !== undefined) {
    try {
      return { name: 'terminal', deviceId: decodeURIComponent(m[1]) };
    } catch {
      return { name: 'notFound' };
    }
  }
  return { name: 'notFound' };
}

/** Paths of the screens, so links and redirects are built in one place. */
export const paths = {
  devices: () => '/',
  history: () => '/history',
  terminal: (deviceId: string) => `/terminal/${encodeURIComponent(deviceId)}`,
  login: (next?: string) => (next !== undefined && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'),
};

/** The `next` parameter of the login page, only when it is a path on this origin. */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next !== null && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
