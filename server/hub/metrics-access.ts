/**
 * Who may read `/metrics`. It tells the fleet's size, how many devices are online and how much
 * streams carry, on the port the internet reaches: so not anyone. A service policy's SAS token
 * (any policy that can read the registry or connect streams) may, and so may a Prometheus scraper
 * with the static bearer token the node is given (DEVICESTREAMS_METRICS_TOKEN: Prometheus sends
 * `Authorization: Bearer …` from its `authorization.credentials_file`), compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { DsError, ErrorCode } from '../../shared/errors.js';
import type { Authenticator } from './auth.js';

/** Shortest bearer token accepted: a guessable one would be no lock at all. */
export const MIN_METRICS_TOKEN_LENGTH = 24;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function metricsAccess(auth: Authenticator, token: string | undefined): (authorization: string | undefined) => Promise<void> {
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new Error(`DEVICESTREAMS_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`);
  }
  const expected = token === undefined ? undefined : digest(token);
  return async (authorization) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (bearer !== undefined) {
      if (expected !== undefined && timingSafeEqual(digest(bearer), expected)) return;
      throw new DsError(ErrorCode.Unauthorized, expected === undefined ? 'this node takes no bearer token for /metrics (set DEVICESTREAMS_METRICS_TOKEN), or send a service SAS token' : 'the bearer token for /metrics does not match');
    }
    if (authorization === undefined) throw new DsError(ErrorCode.MissingCredentials, '/metrics needs a service SAS token or the bearer token in DEVICESTREAMS_METRICS_TOKEN');
    await auth.service(authorization, ['RegistryRead', 'RegistryView', 'ServiceConnect']);
  };
}
