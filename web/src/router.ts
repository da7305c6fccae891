/**
 * Client-side routing on the History API: a location hook, `navigate()`, and the route table.
 * The app has a handful of screens, so a router package would be more code than it saves.
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
  | { name: 'operators' }
  | { name: 'settings' }
  | { name: 'account' }
  | { name: 'replay'; streamId: string }
  | { name: 'watch'; streamId: string }
  | { name: 'notFound' };

/** Maps a pathname to a screen. Device ids may hold `%`, `?` and the like, so they are URI-encoded. */
export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path === '/' || path === '/devices') return { name: 'devices' };
  if (path === '/login') return { name: 'login' };
  if (path === '/history') return { name: 'history' };
  if (path === '/operators') return { name: 'operators' };
  if (path === '/settings') return { name: 'settings' };
  if (path === '/account') return { name: 'account' };
  const m = /^\/(terminal|replay|watch)\/([^/]+)$/.exec(path);
  if (m?.[1] !== undefined && m[2] !== undefined) {
    let id: string;
    try {
      id = decodeURIComponent(m[2]);
    } catch {
      return { name: 'notFound' };
    }
    if (m[1] === 'terminal') return { name: 'terminal', deviceId: id };
    return m[1] === 'replay' ? { name: 'replay', streamId: id } : { name: 'watch', streamId: id };
  }
  return { name: 'notFound' };
}

/** Paths of the screens, so links and redirects are built in one place. */
export const paths = {
  devices: () => '/',
  /** The stream history; with `device`, filtered to that device's streams. */
  history: (filter: { device?: string } = {}) => (filter.device !== undefined ? `/history?${new URLSearchParams({ device: filter.device }).toString()}` : '/history'),
  /** Account management (admins). */
  operators: () => '/operators',
  /** Console settings (admins): keystroke recording. */
  settings: () => '/settings',
  /** The signed-in operator's own account (every role): their password. */
  account: () => '/account',
  /** A device's terminal: a new session, or with `sessionId` that session reattached. */
  terminal: (deviceId: string, sessionId?: string | null) => `/terminal/${encodeURIComponent(deviceId)}${sessionId != null ? `?session=${encodeURIComponent(sessionId)}` : ''}`,
  /** The player of a stream's recording. */
  replay: (streamId: string) => `/replay/${encodeURIComponent(streamId)}`,
  /** A live session, read-only (admins). */
  watch: (streamId: string) => `/watch/${encodeURIComponent(streamId)}`,
  login: (next?: string) => (next !== undefined && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'),
};

/** The `next` parameter of the login page, only when it is a path on this origin. */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next !== null && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
