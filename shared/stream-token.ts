/**
 * Per-stream bearer tokens for the streaming endpoint: HS256 JWTs of `{sid, side, dev, exp, jti, gw}`.
 * The hub signs one for each side; the endpoint verifies, checks side and stream, and burns the jti.
 * Node-only (node:crypto).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { DsError, ErrorCode } from './errors.js';

export type StreamSide = 'device' | 'service';

export interface StreamClaims {
  /** Stream id. */
  sid: string;
  side: StreamSide;
  /** Device id. */
  dev: string;
  /** Expiry, unix seconds. */
  exp: number;
  /** Token id, single use. */
  jti: string;
  /** The node whose streaming endpoint carries the stream; another node's endpoint refuses the token. */
  gw?: string;
  /** A resumed leg of a stream that lost its connection (v2): its endpoint pairs it again. */
  res?: true;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const MAX_TOKEN_LENGTH = 2048;

function mac(secret: Buffer, input: string): Buffer {
  return createHmac('sha256', secret).update(input).digest();
}

/** Signs a token for one side of one stream. */
export function signStreamToken(secret: Buffer, claims: Omit<StreamClaims, 'jti'> & { jti?: string }): string {
  const full: StreamClaims = { ...claims, jti: claims.jti ?? randomUUID() };
  const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
  return `${HEADER}.${payload}.${mac(secret, `${HEADER}.${payload}`).toString('base64url')}`;
}

function bad(message: string): DsError {
  return new DsError(ErrorCode.Unauthorized, `stream token ${message}`);
}

/** Verifies signature, shape and expiry; throws DsError (401xxx). Single use is the caller's job. */
export function verifyStreamToken(secret: Buffer, token: string, nowSeconds: number): StreamClaims {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw bad('missing or too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw bad('is not a JWT');
  const [header, payload, signature] = parts as [string, string, string];
  if (header !== HEADER) throw bad('has an unsupported header');
  const given = Buffer.from(signature, 'base64url');
  // Node's decoder skips stray characters; only the canonical spelling of a signature counts.
  if (given.toString('base64url') !== signature) throw bad('signature does not verify');
  const expected = mac(secret, `${header}.${payload}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad('signature does not verify');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw bad('payload is not JSON');
  }
  const c = claims as Partial<StreamClaims> | null;
  if (
    c === null || typeof c !== 'object' || typeof c.sid !== 'string' || typeof c.dev !== 'string' ||
    typeof c.jti !== 'string' || typeof c.exp !== 'number' || (c.side !== 'device' && c.side !== 'service')
  ) {
    throw bad('payload has the wrong shape');
  }
  if ((c.gw !== undefined && typeof c.gw !== 'string') || (c.res !== undefined && c.res !== true)) throw bad('payload has the wrong shape');
  if (c.exp < nowSeconds) throw new DsError(ErrorCode.TokenExpired, 'stream token has expired');
  return { sid: c.sid, side: c.side, dev: c.dev, exp: c.exp, jti: c.jti, ...(c.gw === undefined ? {} : { gw: c.gw }), ...(c.res === true ? { res: true as const } : {}) };
}
