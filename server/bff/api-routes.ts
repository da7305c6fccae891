/** The console's REST API (see shared/console-api.ts). */
import { OPERATOR_NAME_MAX, OPERATOR_NAME_PATTERN, PASSWORD_MAX, PASSWORD_MIN } from '../../shared/account-limits.js';
import { fieldProblem } from './field-problem.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Me, Role, StreamPage } from '../../shared/console-api.js';
import { ConsoleCloseCode } from '../../shared/console-protocol.js';
import { readBody } from '../http/respond.js';
import { splitTarget } from '../http/router.js';
import type { ServiceClient } from '../sdk/service-client.js';
import { ApiFailure, badRequest, forbidden, fromHubError, sendApiJson, unauthorized } from './api-errors.js';
import type { LoginAttempt, LoginLimiter } from './login-limiter.js';
import { ROLES, type OperatorAccounts } from './operators.js';
import { presentStream } from './presenters.js';
import { readCookie, sessionCookieName, type Session, type SessionStore } from './sessions.js';
import type { SessionSockets } from './session-sockets.js';

export interface ApiContext {
  operators: OperatorAccounts;
  /** Terminals and watches, tied to the session and account that opened them. */
  sockets: SessionSockets;
  sessions: SessionStore;
  limiter: LoginLimiter;
  service: ServiceClient;
  secureCookies: boolean;
  /** Recording summaries for history rows. */
  recordingsOf: (streamIds: readonly string[]) => Promise<Map<string, { size: number; truncated: boolean; live: boolean }>>;
}

export interface Caller {
  session: Session;
  me: Me;
  /** The account's id (stable; a later account with the same name gets another). */
  operatorId: string;
}

const NAME = z.string().min(1).max(OPERATOR_NAME_MAX).regex(OPERATOR_NAME_PATTERN, 'use letters, digits and . _ @ -');
const PASSWORD = z.string().min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX);
const loginBody = z.object({ username: z.string().min(1).max(OPERATOR_NAME_MAX), password: z.string().min(1).max(PASSWORD_MAX) });
const newOperator = z.object({ name: NAME, password: PASSWORD, role: z.enum(['admin', 'operator', 'viewer']) });
/** An account changing its own password: the current one proves it is the person at the screen. */
const changeOwnPassword = z.object({ currentPassword: z.string().min(1).max(PASSWORD_MAX), newPassword: PASSWORD });
const changeOperator = z.object({ password: PASSWORD.optional(), role: z.enum(['admin', 'operator', 'viewer']).optional() });

async function json<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  let raw: unknown;
  try {
    const body = await readBody(req, 16 * 1024);
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('The request body must be JSON (at most 16 KiB).');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw badRequest(fieldProblem(parsed.error));
  return parsed.data;
}

/** The request's client address (for rate limiting). */
function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${sessionCookieName(secure)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export async function callerOf(ctx: ApiContext, req: IncomingMessage): Promise<Caller | undefined> {
  const session = await ctx.sessions.get(readCookie(req.headers.cookie, sessionCookieName(ctx.secureCookies)));
  if (session === undefined) return undefined;
  const op = await ctx.operators.get(session.operator);
  if (op === undefined) return undefined;
  return { session, me: { name: op.name, role: op.role }, operatorId: op.id };
}

function need(caller: Caller | undefined, roles: readonly Role[], what: string): Caller {
  if (caller === undefined) throw unauthorized();
  if (!roles.includes(caller.me.role)) throw forbidden(what);
  return caller;
}

/** A console API handler; `params` are the pattern's path parameters, already URL-decoded. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, caller: Caller | undefined, params: Record<string, string>) => Promise<void> | void;

/** A console API route: method, path pattern (`/api/devices/:id`, see server/http/router.ts), handler. */
export interface ApiRoute {
  method: string;
  path: string;
  run: ApiHandler;
}

/** Runs a password check of `attempt`; one refused as busy (503) does not count as a failure. */
async function checked<T>(ctx: ApiContext, attempt: LoginAttempt, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof ApiFailure && err.code === 'login_busy') await ctx.limiter.withdraw(attempt).catch(() => undefined);
    throw err;
  }
}

export function apiRoutes(ctx: ApiContext): ApiRoute[] {
  const all: readonly Role[] = ROLES;
  return [
    {
      method: 'POST',
      path: '/api/login',
      run: async (req, res) => {
        const body = await json(req, loginBody);
        // The attempt counts from here, before the slow password check, so parallel guesses see it.
        const decision = await ctx.limiter.begin(clientAddress(req), body.username);
        if (!decision.allowed) {
          const wait = decision.retryAfterSeconds;
          throw new ApiFailure(429, 'rate_limited', `Too many failed logins; try again in ${wait} s.`, { 'retry-after': String(wait) });
        }
        const op = await checked(ctx, decision.attempt, () => ctx.operators.authenticate(body.username, body.password, decision.attempt.known));
        if (op === undefined) throw new ApiFailure(401, 'bad_credentials', 'Wrong user name or password.');
        await ctx.limiter.succeeded(decision.attempt);
        const { token, expiresAt } = await ctx.sessions.create(op.name);
        const me: Me = { name: op.name, role: op.role };
        sendApiJson(res, 200, me, { 'set-cookie': sessionCookie(token, Math.floor((expiresAt - Date.now()) / 1000), ctx.secureCookies) });
      },
    },
    {
      method: 'POST',
      path: '/api/logout',
      run: async (_req, res, caller) => {
        if (caller !== undefined) {
          await ctx.sessions.delete(caller.session.tokenHash);
          ctx.sockets.closeSession(caller.session.tokenHash, ConsoleCloseCode.LoggedOut, 'You logged out.');
        }
        res.writeHead(204, { 'set-cookie': sessionCookie('', 0, ctx.secureCookies), 'cache-control': 'no-store' }).end();
      },
    },
    {
      method: 'GET',
      path: '/api/me',
      run: (_req, res, caller) => sendApiJson(res, 200, need(caller, all, 'see this').me),
    },
    {
      method: 'POST',
      path: '/api/me/password',
      run: async (req, res, caller) => {
        const me = need(caller, all, 'change a password');
        const body = await json(req, changeOwnPassword);
        // Counted like a login: a session left open must not become a way to guess the password.
        const decision = await ctx.limiter.begin(clientAddress(req), me.me.name);
        if (!decision.allowed) {
          const wait = decision.retryAfterSeconds;
          throw new ApiFailure(429, 'rate_limited', `Too many wrong passwords; try again in ${wait} s.`, { 'retry-after': String(wait) });
        }
        // authenticate() checks with scrypt and timingSafeEqual, as a login does.
        // A session's own account goes ahead of logins from elsewhere when the node is busy.
        if ((await checked(ctx, decision.attempt, () => ctx.operators.authenticate(me.me.name, body.currentPassword, true))) === undefined) {
          throw new ApiFailure(403, 'wrong_password', 'The current password is wrong; your password was not changed.');
        }
        await ctx.limiter.succeeded(decision.attempt);
        await ctx.operators.setPassword(me.me.name, body.newPassword);
        // Every session of the account ends (one stolen with the old password too) and its sockets
        // with it; this browser gets a new session, so the person who changed it stays logged in.
        await ctx.sessions.deleteFor(me.me.name);
        ctx.sockets.closeOperator(me.operatorId, 'Your password was changed; log in again.');
        const { token, expiresAt } = await ctx.sessions.create(me.me.name);
        sendApiJson(res, 200, me.me, { 'set-cookie': sessionCookie(token, Math.floor((expiresAt - Date.now()) / 1000), ctx.secureCookies) });
      },
    },
    {
      method: 'GET',
      path: '/api/streams',
      run: async (req, res, caller) => {
        need(caller, all, 'see the history');
        const q = splitTarget(req.url).query;
        const time = (name: string): number | undefined => {
          const v = q.get(name);
          if (v === null || v === '') return undefined;
          const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
          if (!Number.isFinite(ms)) throw badRequest(`"${name}" must be a date and time.`);
          return ms;
        };
        const until = time('until');
        const before = time('before');
        const beforeId = q.get('beforeId') || undefined;
        if (beforeId !== undefined && (before === undefined || !/^[A-Za-z0-9-]{1,64}$/.test(beforeId))) throw badRequest('"beforeId" must be the nextBeforeId of a previous page, given with its "before".');
        const limit = Math.min(Math.max(Number(q.get('limit') ?? '50') || 50, 1), 200);
        const page = await ctx.service
          .listStreams({
            deviceId: q.get('deviceId') || undefined,
            result: q.get('result') || undefined,
            operator: q.get('operator') || undefined,
            since: time('since'),
            // An earlier `until` replaces the page's place in the log, and its id with it.
            before: before !== undefined && until !== undefined ? Math.min(before, until) : (before ?? until),
            beforeId: until !== undefined && before !== undefined && until < before ? undefined : beforeId,
            limit,
          })
          .catch((e: unknown) => { throw fromHubError(e); });
        const recordings = await ctx.recordingsOf(page.streams.map((s) => s.streamId));
        const body: StreamPage = { streams: page.streams.map((s) => presentStream(s, recordings.get(s.streamId) ?? null)), nextBefore: page.nextBefore, nextBeforeId: page.nextBeforeId ?? null };
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'GET',
      path: '/api/operators',
      run: async (_req, res, caller) => {
        need(caller, ['admin'], 'manage operators');
        sendApiJson(res, 200, { operators: (await ctx.operators.list()).map((o) => ({ name: o.name, role: o.role, createdAt: new Date(o.createdAt).toISOString() })) });
      },
    },
    {
      method: 'POST',
      path: '/api/operators',
      run: async (req, res, caller) => {
        need(caller, ['admin'], 'manage operators');
        const body = await json(req, newOperator);
        if (!(await ctx.operators.create(body.name, body.password, body.role))) throw new ApiFailure(409, 'exists', `There is already an operator named ${body.name}, or the same name in other letter case.`);
        sendApiJson(res, 201, { name: body.name, role: body.role });
      },
    },
    {
      method: 'PATCH',
      path: '/api/operators/:name',
      run: async (req, res, caller, params) => {
        const me = need(caller, ['admin'], 'manage operators');
        const name = params.name ?? '';
        const body = await json(req, changeOperator);
        if (name === me.me.name && body.role !== undefined && body.role !== 'admin') {
          throw badRequest('You cannot take away your own admin role; another admin can.');
        }
        if (name === me.me.name && body.password !== undefined) {
          throw badRequest('Change your own password with your current one (POST /api/me/password), not with a reset.');
        }
        const before = await ctx.operators.get(name);
        if (before === undefined) throw new ApiFailure(404, 'not_found', `There is no operator named ${name}.`);
        if (body.role !== undefined && body.role !== before.role) {
          await ctx.operators.setRole(name, body.role);
          ctx.sockets.closeOperator(before.id, `An admin changed your role to ${body.role}.`);
        }
        if (body.password !== undefined) {
          await ctx.operators.setPassword(name, body.password);
          await ctx.sessions.deleteFor(name);
          await ctx.limiter.forget(name);
          ctx.sockets.closeOperator(before.id, 'An admin reset your password; log in again.');
        }
        const op = await ctx.operators.get(name);
        sendApiJson(res, 200, { name, role: op?.role });
      },
    },
    {
      method: 'DELETE',
      path: '/api/operators/:name',
      run: async (_req, res, caller, params) => {
        const me = need(caller, ['admin'], 'manage operators');
        const name = params.name ?? '';
        if (name === me.me.name) throw badRequest('You cannot delete your own account.');
        const op = await ctx.operators.get(name);
        if (op === undefined || !(await ctx.operators.delete(name))) throw new ApiFailure(404, 'not_found', `There is no operator named ${name}.`);
        await ctx.limiter.forget(name);
        ctx.sockets.closeOperator(op.id, 'An admin removed your account.');
        res.writeHead(204).end();
      },
    },
  ];
}
