/**
 * The app origins (`{label}.{apps-domain}`): every request and WebSocket upgrade whose Host is under
 * the apps domain comes here and nowhere else (server.ts routes by Host). It redeems handoff tokens
 * into the app cookie, checks that cookie on everything else, and proxies to the device's service
 * through streams: bodies flow with backpressure both ways (SSE, large downloads), upgrades are
 * piped as raw bytes after the device's answer. Failures get a page that says what to do.
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HANDOFF_PATH, appLabelOfHost, parseAppLabel } from '../../shared/app-origin.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { rejectUpgrade } from '../http/upgrade.js';
import { readCookie } from '../bff/sessions.js';
import { StreamRejectedError } from '../sdk/service-client.js';
import { AppBusyError, type AppConnections } from './app-connections.js';
import type { AppAccess } from './app-access.js';
import { requestHeadersForDevice, responseHeadersForBrowser } from './app-headers.js';
import { sendAppPage } from './app-pages.js';
import { APP_COOKIE_TTL_MS, type AppClaims, type AppTokens } from './app-tokens.js';
import type { UsedHandoffs } from './used-handoffs.js';

export interface AppProxyOptions {
  appsDomain: string;
  /** The console's URL (the pages link back to it). */
  consoleUrl: string;
  /** HTTPS: the cookie is Secure and `__Host-`-prefixed. */
  secure: boolean;
  tokens: AppTokens;
  used: UsedHandoffs;
  access: AppAccess;
  connections: AppConnections;
  /** Longest wait for the device's response headers (default 60 s). */
  responseHeadersTimeoutMs?: number;
  log: (line: string) => void;
}

export interface AppProxy {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The app cookie's name. */
  readonly cookieName: string;
}

interface Target {
  deviceId: string;
  service: string;
  origin: string;
}

export function createAppProxy(o: AppProxyOptions): AppProxy {
  const cookieName = o.secure ? '__Host-ds_app' : 'ds_app';
  const scheme = o.secure ? 'https' : 'http';
  const page = (res: ServerResponse, status: number, title: string, sentence: string, headers?: Record<string, string | string[]>): void =>
    sendAppPage(res, status, title, sentence, o.consoleUrl, headers);

  const targetOf = (req: IncomingMessage): Target | undefined => {
    const label = appLabelOfHost(req.headers.host, o.appsDomain);
    const pair = label === undefined ? undefined : parseAppLabel(label);
    return pair === undefined ? undefined : { ...pair, origin: `${scheme}://${(req.headers.host ?? '').toLowerCase()}` };
  };
  const clearCookie = `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${o.secure ? '; Secure' : ''}`;

  /** The app cookie's claims when they are for this app and still stand; a sentence why not otherwise. */
  const credential = async (req: IncomingMessage, t: Target): Promise<AppClaims | string> => {
    const claims = o.tokens.verify(readCookie(req.headers.cookie, cookieName), 'app');
    if (claims === undefined || claims.deviceId !== t.deviceId || claims.service !== t.service) {
      return `Open "${t.service}" on ${t.deviceId} from the DeviceStreams console (the Open web app button): this address only works with the pass the console hands over, which this browser does not have or which has expired.`;
    }
    const verdict = await o.access.check(claims);
    if (verdict === 'sessionEnded') return 'Your console session has ended; log in to the console again and open the app from there.';
    if (verdict === 'roleChanged') return 'Your role in the console has changed since you opened this app; open it from the console again (operators and admins may open device apps).';
    return claims;
  };

  const redeem = async (req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
    const claims = o.tokens.verify(token, 'handoff');
    if (claims === undefined || claims.deviceId !== t.deviceId || claims.service !== t.service) {
      return page(res, 401, 'This link has expired', 'Links from the console to a device app are good for 60 seconds and for this app only. Open the app from the console again.');
    }
    const claim = await o.used.claim(claims.jti, claims.exp);
    if (claim === 'used') return page(res, 401, 'This link was used already', 'A link from the console opens a device app once. Open the app from the console again.');
    if (claim === 'unknown') return page(res, 503, 'Try again in a moment', 'This console node cannot reach the cluster\'s message bus to check the link right now. Open the app from the console again shortly.');
    const verdict = await o.access.check(claims);
    if (verdict !== 'ok') return page(res, 403, 'Not allowed', 'Your console session has ended or your role has changed; log in to the console and open the app from there.');
    const cookie = o.tokens.sign('app', claims, Date.now() + APP_COOKIE_TTL_MS);
    o.log(`app ${t.service} on ${t.deviceId}: opened by ${claims.operator}`);
    res.writeHead(303, {
      location: '/',
      'set-cookie': `${cookieName}=${cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${APP_COOKIE_TTL_MS / 1000}${o.secure ? '; Secure' : ''}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    }).end();
  };

  const failurePage = (res: ServerResponse, err: unknown, t: Target): void => {
    const { status, title, sentence } = describeFailure(err, t);
    o.log(`app ${t.service} on ${t.deviceId}: ${sentence}`);
    page(res, status, title, sentence);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse, t: Target, claims: AppClaims): void => {
    let agent;
    try {
      agent = o.connections.agentFor(claims);
    } catch (err) {
      return failurePage(res, err, t);
    }
    const headers = requestHeadersForDevice(req.headers, { cookieName, clientAddress: req.socket.remoteAddress ?? '', proto: scheme, upgrade: false });
    const up = request({ agent, method: req.method, path: req.url, headers, setHost: false });
    const timer = setTimeout(() => up.destroy(new DsError(ErrorCode.DeviceResponseTimeout, `the device's ${t.service} service sent no answer within ${Math.round((o.responseHeadersTimeoutMs ?? 60_000) / 1000)} s`)), o.responseHeadersTimeoutMs ?? 60_000);
    up.on('response', (answer) => {
      clearTimeout(timer);
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeadersForBrowser(answer.rawHeaders, { appOrigin: t.origin, hubCookie: cookieName }));
      // Headers at once (an event stream may say nothing for a while), then the body as it comes.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    up.on('error', (err) => {
      clearTimeout(timer);
      if (res.headersSent) res.destroy();
      else failurePage(res, err, t);
    });
    // The browser went away: the device's answer is not wanted any more.
    res.on('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };

  return {
    cookieName,
    handleRequest(req, res) {
      const t = targetOf(req);
      if (t === undefined) return page(res, 404, 'No such app', `This address names no device app. Device apps live at {device}--{service}.${o.appsDomain}; open one from the console.`);
      const path = (req.url ?? '/').split('?')[0];
      const run = async (): Promise<void> => {
        if (path === HANDOFF_PATH && req.method === 'GET') return redeem(req, res, t);
        const c = await credential(req, t);
        if (typeof c === 'string') return page(res, 401, 'Open this app from the console', c, { 'set-cookie': clearCookie });
        proxy(req, res, t, c);
      };
      run().catch((err: unknown) => failurePage(res, err, t));
    },
    handleUpgrade(req, socket, head) {
      const t = targetOf(req);
      if (t === undefined) throw new DsError(ErrorCode.NotFound, 'this address names no device app');
      // A page of another origin (the console, another app) must not reach this app's sockets.
      if ((req.headers.origin ?? '').toLowerCase() !== t.origin) throw new DsError(ErrorCode.Forbidden, `WebSockets of this app may only be opened from its own pages (Origin ${t.origin})`);
      const run = async (): Promise<void> => {
        const c = await credential(req, t);
        if (typeof c === 'string') throw new DsError(ErrorCode.MissingCredentials, c);
        const stream = await o.connections.openWebSocket(c);
        if (socket.destroyed) {
          stream.destroy();
          return;
        }
        const headers = requestHeadersForDevice(req.headers, { cookieName, clientAddress: req.socket.remoteAddress ?? '', proto: scheme, upgrade: true });
        let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
        for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) text += `${k}: ${String(one).replace(/[\r\n]/g, '')}\r\n`;
        stream.write(`${text}\r\n`);
        if (head.length > 0) stream.write(head);
        // From here bytes pass as they are (the device's 101 and the frames); each side ends the other.
        stream.pipe(socket).on('error', () => undefined);
        socket.pipe(stream);
        // A device that never answers the upgrade does not hold the browser and a stream for ever.
        const answer = setTimeout(() => stream.destroy(), o.responseHeadersTimeoutMs ?? 60_000);
        stream.once('data', () => clearTimeout(answer));
        socket.on('close', () => stream.destroy());
        stream.on('close', () => {
          clearTimeout(answer);
          socket.destroy();
        });
      };
      run().catch((err: unknown) => {
        const { status, sentence } = describeFailure(err, t);
        rejectUpgrade(socket, new DsError(status === 401 ? ErrorCode.MissingCredentials : status === 403 ? ErrorCode.Forbidden : status === 504 ? ErrorCode.DeviceResponseTimeout : status === 429 ? ErrorCode.ThrottledDevice : status === 404 ? ErrorCode.DeviceNotFound : ErrorCode.RoleUnavailable, sentence));
      });
    },
  };
}

/** What went wrong reaching a device's service, for a person. */
export function describeFailure(err: unknown, t: { deviceId: string; service: string }): { status: number; title: string; sentence: string } {
  const d = t.deviceId;
  const s = t.service;
  if (err instanceof AppBusyError) return { status: 503, title: 'Too busy', sentence: `Too many connections: ${err.message}.` };
  if (err instanceof StreamRejectedError) {
    return { status: 502, title: `${d} refused "${s}"`, sentence: /no mapping/.test(err.reason)
      ? `${d} has no "${s}" service: its agent needs a mapping such as --map ${s}=127.0.0.1:${s.startsWith('https') ? 443 : 80} (the device said: ${err.reason}).`
      : `${d} refused to open its "${s}" service: ${err.reason}. Check that the web server it maps is running.` };
  }
  if (err instanceof DsError) {
    switch (err.code) {
      case ErrorCode.DeviceNotFound: return { status: 404, title: 'No such device', sentence: `There is no device "${d}" in the registry.` };
      case ErrorCode.DeviceNotOnline: return { status: 503, title: `${d} is offline`, sentence: `${d} is not connected to the hub, so its "${s}" app cannot be reached. Try again once it is online.` };
      case ErrorCode.DeviceDisabled: return { status: 403, title: `${d} is disabled`, sentence: `${d} is disabled; an admin can enable it (devicestreams device enable ${d}).` };
      case ErrorCode.DeviceResponseTimeout: return { status: 504, title: `${d} did not answer`, sentence: `${d} did not answer in time (${err.message}).` };
      case ErrorCode.MissingCredentials: return { status: 401, title: 'Open this app from the console', sentence: err.message };
      default:
        if (err.status === 429) return { status: 429, title: 'Too many streams', sentence: `The hub refused another stream: ${err.message}.` };
        return { status: err.status >= 400 && err.status < 600 ? err.status : 502, title: 'The app could not be reached', sentence: err.message };
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 502, title: 'The app could not be reached', sentence: `The connection to ${d}'s "${s}" service failed: ${message}.` };
}
