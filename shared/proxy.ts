/**
 * Outbound connections through an HTTP proxy (node-only), for devices whose network lets them out
 * only that way: every connection to the hub — the control channel, each stream's leg, the resume
 * calls — becomes a CONNECT tunnel through the proxy, with TLS to the hub inside it (the proxy sees
 * the hub's name and port, never the bytes).
 *
 * Which proxy: an explicit URL (`--proxy`) wins; otherwise `HTTPS_PROXY`/`https_proxy` (or
 * `ALL_PROXY`) unless `NO_PROXY` names the hub. Basic auth goes in the URL
 * (`http://user:password@proxy:3128`).
 */
import type { Agent } from 'node:http';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { DsError, ErrorCode } from './errors.js';

/** Where a device reaches the hub through, as it was configured. */
export type ProxySetting = string | false | undefined;

/**
 * The proxy for connections to `target` (an https/wss URL): `setting` when it is a URL, none when
 * it is false, else what the environment says for that URL.
 */
export function proxyFor(target: string, setting: ProxySetting): URL | undefined {
  if (setting === false) return undefined;
  const raw = setting ?? getProxyForUrl(target.replace(/^wss:/, 'https:').replace(/^ws:/, 'http:'));
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new DsError(ErrorCode.ArgumentInvalid, `the proxy "${redact(raw)}" is not a URL; give it as http://[user:password@]host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DsError(ErrorCode.ArgumentInvalid, `the proxy "${describeProxy(url)}" must be an http:// or https:// URL`);
  }
  return url;
}

/** The proxy's URL without its password, for messages and logs. */
export function describeProxy(proxy: URL): string {
  const shown = new URL(proxy.href);
  if (shown.password !== '') shown.password = '***';
  return shown.href.replace(/\/$/, '');
}

/** A proxy setting that is not a URL, with anything before its last '@' (credentials) hidden. */
function redact(raw: string): string {
  const at = raw.lastIndexOf('@');
  if (at < 0) return raw;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0] ?? '';
  return `${scheme}***${raw.slice(at)}`;
}

const agents = new Map<string, Agent>();

/** One agent per proxy URL: CONNECT tunnels, one per connection (no keep-alive to the hub). */
export function proxyAgent(proxy: URL): Agent {
  let agent = agents.get(proxy.href);
  if (agent === undefined) {
    agent = new HttpsProxyAgent(proxy.href, { keepAlive: false });
    agents.set(proxy.href, agent);
    if (agents.size > 8) agents.delete(agents.keys().next().value as string);
  }
  return agent;
}

/**
 * What a refusal from the proxy itself means (its CONNECT answered with an HTTP error), or
 * undefined for an answer that came from the hub (the hub's refusals carry its JSON error body).
 */
export function proxyRefusal(proxy: URL, status: number, fromHub: boolean): DsError | undefined {
  if (fromHub) return undefined;
  const who = `the proxy ${describeProxy(proxy)}`;
  // 407 is the standard answer; some proxies (tinyproxy 1.11 among them) answer a CONNECT with 401.
  if (status === 407 || status === 401) {
    const hint = proxy.username === '' ? 'give a user and password in the proxy URL (http://user:password@host:port)' : 'check the user and password in the proxy URL';
    return new DsError(ErrorCode.ProxyRefused, `${who} wants authentication (HTTP ${status}): ${hint}`);
  }
  if (status === 403) return new DsError(ErrorCode.ProxyRefused, `${who} does not allow a tunnel to the hub (HTTP 403): allow CONNECT to the hub's host and port (443 or the one in the hub URL)`);
  return new DsError(ErrorCode.ProxyRefused, `${who} refused the tunnel to the hub (HTTP ${status})`);
}

/**
 * Whether an HTTP answer on `socket` came through the tunnel from the hub: a CONNECT the proxy
 * refused is answered on a stand-in socket that never spoke TLS (https-proxy-agent replays the
 * proxy's answer there), while the hub answers on the TLS connection inside the tunnel. A hub on
 * plain http:// cannot be told apart this way; its answers count as the proxy's.
 */
export function answeredByHub(socket: unknown): boolean {
  return (socket as { encrypted?: unknown } | null)?.encrypted === true;
}

/** A network failure on the way through the proxy, named as such. */
export function proxyNetworkError(proxy: URL, err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    return new Error(`cannot reach the proxy ${describeProxy(proxy)}: ${err.message}`, { cause: err });
  }
  return err;
}
