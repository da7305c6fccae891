/**
 * The enrollment routes (shapes in shared/enrollment.ts):
 *
 *   POST /enrollment-tokens  a policy with RegistryWrite or Enroll makes a one-use token; a trusted
 *                            service (the console) names the operator it acts for in
 *                            x-devicestreams-operator, which is recorded with the policy
 *   POST /enroll             anyone holding a token exchanges it for a device identity
 *
 * POST /enroll needs no other credential, so it is bounded: a small body, and an address that sent
 * too many bodies or tokens that are not real (20 in 5 minutes) gets 429 for those until its oldest
 * failure is 5 minutes old. A real token is taken from any address even then: behind a TCP balancer
 * or a NAT every device has the same address, and whoever sends garbage from it must not lock the
 * fleet's enrollments out. (A throttled address still costs one primary-key lookup per token that
 * looks like one; the secret's 256 bits are what stop guessing.)
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { CloseCode } from '../../shared/close-codes.js';
import { enrollmentTokenRequestSchema, enrollRequestSchema } from '../../shared/enrollment-schema.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { readBody, sendJson } from '../http/respond.js';
import type { Router } from '../http/router.js';
import { Enrollment, parseToken } from './enrollment.js';
import type { HubContext } from './hub-context.js';
import { FailureLimiter } from './failure-limiter.js';
import { installCommand } from './install-command.js';
import { OPERATOR_HEADER } from './stream-routes.js';

/** The largest body either route reads: a token request with every tag and service fits many times. */
const MAX_BODY_BYTES = 16 * 1024;

async function body<S extends z.ZodType>(req: IncomingMessage, schema: S, what: string): Promise<z.output<S>> {
  const raw = await readBody(req, MAX_BODY_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new DsError(ErrorCode.InvalidRequest, `the ${what} body must be JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
    throw new DsError(ErrorCode.InvalidRequest, `invalid field "${field}" of the ${what}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export interface EnrollmentRouteOptions {
  /** `host[:port]` device connection strings name. */
  hostName: string;
  /** The hub's address as devices reach it (default https://hostName). */
  publicUrl?: string | undefined;
  /** The local CA devices must trust (its fingerprint goes into the install command); none for a public certificate. */
  caFile?: string | undefined;
  /** Failed uses an address may make in `windowMs` before it must wait. */
  maxFailures?: number;
  windowMs?: number;
}

export function addEnrollmentRoutes(router: Router, hub: HubContext, o: EnrollmentRouteOptions): Enrollment {
  const enrollment = new Enrollment({
    store: hub.store,
    hostName: o.hostName,
    // Read when a token is made: the fingerprint must be of the CA that GET /ca.pem serves now.
    installCommand: (token, pattern) => installCommand({
      publicUrl: o.publicUrl ?? `https://${o.hostName}`,
      token,
      caPem: o.caFile === undefined ? undefined : readFileSync(o.caFile, 'utf8'),
      nameFromHostname: pattern,
    }),
    changed: (deviceId) => hub.feed.changed(deviceId),
    revoke: (deviceId) => hub.revoke(deviceId, CloseCode.DeviceRevoked, 'device enrolled again with new keys', undefined),
    log: hub.log,
  });
  const limiter = new FailureLimiter({ windowMs: o.windowMs ?? 5 * 60_000, maxFailures: o.maxFailures ?? 20, what: 'enrollments' });

  router.add('POST', '/enrollment-tokens', async ({ req, res }) => {
    const principal = await hub.auth.service(req.headers.authorization, ['RegistryWrite', 'Enroll']);
    const spec = await body(req, enrollmentTokenRequestSchema, 'enrollment token request');
    const op = req.headers[OPERATOR_HEADER];
    const operator = typeof op === 'string' && op !== '' ? op.slice(0, 128) : undefined;
    const created = await enrollment.create(spec, operator === undefined ? principal.policy : `${principal.policy} (${operator})`);
    sendJson(res, 200, created);
  });

  router.add('POST', '/enroll', async ({ req, res }) => {
    const address = req.socket.remoteAddress ?? '?';
    const blocked = limiter.refusal(address);
    /** A failure of the caller's making: counted, and answered 429 while the address is over its limit. */
    const failed = (err: unknown): never => {
      limiter.failed(address);
      throw blocked ?? err;
    };
    const request = await body(req, enrollRequestSchema, 'enrollment').catch(failed);
    if (blocked !== undefined && parseToken(request.token) === undefined) failed(undefined);
    try {
      sendJson(res, 200, await enrollment.redeem(request));
    } catch (err) {
      // Only a token that is not real counts: a used or expired one, or a wrong id, is no guess.
      if (err instanceof DsError && err.code === ErrorCode.EnrollmentTokenInvalid) failed(err);
      throw err;
    }
  });
  return enrollment;
}
