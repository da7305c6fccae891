import { describe, expect, it } from 'vitest';
import { requestHeadersForDevice, responseHeadersForBrowser, rewriteLocation, rewriteSetCookie, withoutCookie } from './app-headers.js';

const APP = 'https://pump--http.apps.example.com';

describe('what the device sees', () => {
  it('takes the hub cookie out of the Cookie header and nothing else', () => {
    expect(withoutCookie('a=1; __Host-ds_app=secret; b=2', '__Host-ds_app')).toBe('a=1; b=2');
    expect(withoutCookie('__Host-ds_app=secret', '__Host-ds_app')).toBeUndefined();
    expect(withoutCookie('x__Host-ds_app=1;flag', '__Host-ds_app')).toBe('x__Host-ds_app=1; flag');
  });

  it('drops hop-by-hop and forwarded headers, keeps the upgrade pair for WebSockets, and says who asked', () => {
    const h = { host: 'pump--http.apps.example.com', cookie: '__Host-ds_app=s; theirs=1', connection: 'keep-alive, x-private', 'x-private': '1', 'keep-alive': '5', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', upgrade: 'websocket', accept: 'text/html' };
    const plain = requestHeadersForDevice(h, { cookieName: '__Host-ds_app', clientAddress: '10.0.0.9', proto: 'https', upgrade: false });
    expect(plain).toEqual({ host: h.host, accept: 'text/html', cookie: 'theirs=1', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': h.host });
    const ws = requestHeadersForDevice({ ...h, connection: 'Upgrade' }, { cookieName: '__Host-ds_app', clientAddress: '10.0.0.9', proto: 'https', upgrade: true });
    expect(ws.connection).toBe('Upgrade');
    expect(ws.upgrade).toBe('websocket');
    expect(ws['keep-alive']).toBeUndefined();
  });
});

describe('what the browser sees', () => {
  it('moves redirects to the device\'s own address onto the app origin', () => {
    expect(rewriteLocation('http://127.0.0.1:8080/login?next=%2F#top', APP)).toBe(`${APP}/login?next=%2F#top`);
    expect(rewriteLocation('http://localhost/x', APP)).toBe(`${APP}/x`);
    expect(rewriteLocation('http://[::1]:80/x', APP)).toBe(`${APP}/x`);
    expect(rewriteLocation('http://pump--http.apps.example.com/x', APP)).toBe(`${APP}/x`);
    expect(rewriteLocation('/relative', APP)).toBe('/relative');
    expect(rewriteLocation('https://example.org/x', APP)).toBe('https://example.org/x');
    expect(rewriteLocation('javascript://127.0.0.1/%0aalert(1)', APP)).toBe('javascript://127.0.0.1/%0aalert(1)');
  });

  it('keeps the device\'s cookies host-only and off the hub\'s name', () => {
    expect(rewriteSetCookie('sid=1; Domain=.example.com; Path=/; HttpOnly', '__Host-ds_app')).toBe('sid=1; Path=/; HttpOnly');
    expect(rewriteSetCookie('sid=1;domain=example.com', '__Host-ds_app')).toBe('sid=1');
    expect(rewriteSetCookie('__host-DS_APP=x; Path=/', '__Host-ds_app')).toBeUndefined();
  });

  it('rewrites raw response headers and drops hop-by-hop ones', () => {
    const out = responseHeadersForBrowser(['Location', 'http://127.0.0.1/a', 'Set-Cookie', 'a=1; Domain=x', 'Set-Cookie', '__Host-ds_app=f', 'Connection', 'close, X-Hop', 'X-Hop', '1', 'Transfer-Encoding', 'chunked', 'Content-Type', 'text/html'], { appOrigin: APP, hubCookie: '__Host-ds_app' });
    expect(out).toEqual(['Location', `${APP}/a`, 'Set-Cookie', 'a=1', 'Content-Type', 'text/html']);
  });
});
