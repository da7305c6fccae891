/**
 * What crosses the app proxy in headers. Towards the device: the browser's request minus the hub's
 * own cookie and hop-by-hop headers, with X-Forwarded-* of ours (the Host stays the app's, so the
 * device's absolute URLs name its origin). Back to the browser: hop-by-hop headers dropped, a
 * Location that points at the device's own address (loopback, or the app host over plain http)
 * moved to the app origin, and Set-Cookie kept host-only (no Domain) and off the hub's cookie name.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)$/i;

/** The Cookie header without the cookie named `drop`; undefined when nothing is left. */
export function withoutCookie(header: string | undefined, drop: string): string | undefined {
  if (header === undefined) return undefined;
  const kept = header.split(';').map((p) => p.trim()).filter((p) => p !== '' && p.slice(0, p.indexOf('=') < 0 ? p.length : p.indexOf('=')).trim() !== drop);
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** Request headers for the device (HTTP requests and WebSocket upgrades alike; `upgrade` keeps Connection/Upgrade). */
export function requestHeadersForDevice(h: IncomingHttpHeaders, o: { cookieName: string; clientAddress: string; proto: string; upgrade: boolean }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = new Set((typeof h.connection === 'string' ? h.connection : '').split(',').map((t) => t.trim().toLowerCase()));
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith('x-forwarded-') || k === 'forwarded' || k === 'cookie') continue;
    if (!o.upgrade && (HOP_BY_HOP.has(k) || listed.has(k))) continue;
    if (o.upgrade && k !== 'connection' && k !== 'upgrade' && (HOP_BY_HOP.has(k) || listed.has(k))) continue;
    out[k] = v;
  }
  const cookie = withoutCookie(h.cookie, o.cookieName);
  if (cookie !== undefined) out.cookie = cookie;
  out['x-forwarded-for'] = o.clientAddress;
  out['x-forwarded-proto'] = o.proto;
  if (h.host !== undefined) out['x-forwarded-host'] = h.host;
  return out;
}

/** A Location the browser should follow on the app origin instead of at the device's own address. */
export function rewriteLocation(location: string, appOrigin: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location; // relative: already on the app origin
  }
  const app = new URL(appOrigin);
  const deviceOwn = LOOPBACK.test(url.hostname) || (url.hostname === app.hostname && url.protocol !== app.protocol);
  if (!deviceOwn || (url.protocol !== 'http:' && url.protocol !== 'https:')) return location;
  return `${app.origin}${url.pathname}${url.search}${url.hash}`;
}

/** A Set-Cookie line without any Domain attribute; undefined to drop it (it would set the hub's cookie). */
export function rewriteSetCookie(line: string, hubCookie: string): string | undefined {
  const parts = line.split(';');
  const name = (parts[0] ?? '').split('=')[0]?.trim() ?? '';
  if (name.toLowerCase() === hubCookie.toLowerCase()) return undefined;
  return parts.filter((p, i) => i === 0 || !/^\s*domain\s*=/i.test(p)).join(';');
}

/** Raw response headers ([k, v, k, v…]) for the browser. */
export function responseHeadersForBrowser(raw: readonly string[], o: { appOrigin: string; hubCookie: string }): string[] {
  const out: string[] = [];
  const listed = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'connection') for (const t of (raw[i + 1] as string).split(',')) listed.add(t.trim().toLowerCase());
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i] as string;
    let v: string | undefined = raw[i + 1] ?? '';
    const lk = k.toLowerCase();
    if (HOP_BY_HOP.has(lk) || listed.has(lk)) continue;
    if (lk === 'location') v = rewriteLocation(v, o.appOrigin);
    else if (lk === 'set-cookie') v = rewriteSetCookie(v, o.hubCookie);
    if (v !== undefined) out.push(k, v);
  }
  return out;
}
