import { describe, expect, it } from 'vitest';
import { matchRoute, paths, safeNext } from './router';

describe('router', () => {
  it('matches the screens', () => {
    expect(matchRoute('/')).toEqual({ name: 'devices' });
    expect(matchRoute('/history/')).toEqual({ name: 'history' });
    expect(matchRoute('/login')).toEqual({ name: 'login' });
    expect(matchRoute(paths.settings())).toEqual({ name: 'settings' });
    expect(matchRoute('/nope')).toEqual({ name: 'notFound' });
  });

  it('round-trips device ids with URL-special characters', () => {
    const id = "odd?id%50#'";
    expect(matchRoute(paths.terminal(id))).toEqual({ name: 'terminal', deviceId: id });
    expect(matchRoute('/terminal/%E0%A4%A')).toEqual({ name: 'notFound' });
  });

  it('matches the replay and live views of a stream', () => {
    expect(matchRoute('/replay/3f2a9c1e-77aa-4bb0-9d7e-0123456789ab')).toEqual({ name: 'replay', streamId: '3f2a9c1e-77aa-4bb0-9d7e-0123456789ab' });
    expect(matchRoute(paths.watch('s/1'))).toEqual({ name: 'watch', streamId: 's/1' });
    expect(matchRoute(paths.replay('a b'))).toEqual({ name: 'replay', streamId: 'a b' });
    expect(matchRoute('/replay/')).toEqual({ name: 'notFound' });
    expect(matchRoute('/replay/a/b')).toEqual({ name: 'notFound' });
  });

  it('only follows same-origin next paths after login', () => {
    expect(safeNext('?next=%2Fhistory%3Fdevice%3Dx')).toBe('/history?device=x');
    expect(safeNext('?next=https%3A%2F%2Fevil.example')).toBe('/');
    expect(safeNext('?next=%2F%2Fevil.example')).toBe('/');
    expect(safeNext('')).toBe('/');
  });
});
