/**
 * The two credentials of a device app, sealed with a key every node shares (`app-handoff.key` in
 * the store's secrets, as the stream-token key is), so any node of a cluster verifies them without
 * a lookup. Sealed: the claims are encrypted (AES-256-GCM: a link in the browser's history shows
 * nothing of whom it names) and the result HMAC-SHA256-signed, the signature checked first:
 * - a handoff token (in the URL the console opens; good for 60 s and once), and
 * - the app cookie it becomes on the app origin (good for at most 8 h and the console session).
 * Both name the operator account, its role then, its console session (by the hash the store keys it
 * by — not a credential), the device and the service; one is never taken for the other, nor for
 * another device or service. Signatures are compared in constant time.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from '../../shared/console-api.js';

export const HANDOFF_TTL_MS = 60_000;
export const APP_COOKIE_TTL_MS = 8 * 3600 * 1000;
const MAX_TOKEN_CHARS = 2048;

/** Whom an app credential lets in, and to what. */
export interface AppGrant {
  operatorId: string;
  operator: string;
  role: Role;
  /** The console session it came from (the store's key of it): the grant ends with that session. */
  sessionKey: string;
  deviceId: string;
  service: string;
}

export interface AppClaims extends AppGrant {
  kind: 'handoff' | 'app';
  /** Unique id: a handoff is good once. */
  jti: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

export class AppTokens {
  readonly #macKey: Buffer;
  readonly #encKey: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('the app token key must be at least 32 bytes');
    // Two keys from one secret, each for its own use.
    this.#macKey = createHmac('sha256', key).update('devicestreams-app.mac').digest();
    this.#encKey = createHmac('sha256', key).update('devicestreams-app.enc').digest();
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#macKey).update(payload).digest();
  }

  /** Signs fresh claims of `kind` for `grant`, expiring at `exp`. */
  sign(kind: AppClaims['kind'], grant: AppGrant, exp: number): string {
    const claims: AppClaims = { ...grant, kind, jti: randomBytes(16).toString('base64url'), exp };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encKey, iv);
    const sealed = Buffer.concat([iv, cipher.update(JSON.stringify(claims), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const payload = sealed.toString('base64url');
    return `${payload}.${this.#mac(payload).toString('base64url')}`;
  }

  /** The claims of a token of `kind` that verifies and has not expired at `now`; undefined otherwise. */
  verify(token: string | undefined, kind: AppClaims['kind'], now = Date.now()): AppClaims | undefined {
    if (token === undefined || token.length > MAX_TOKEN_CHARS) return undefined;
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = this.#mac(payload);
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return undefined;
    let claims: unknown;
    try {
      const sealed = Buffer.from(payload, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.#encKey, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      claims = JSON.parse(Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]).toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isClaims(claims) || claims.kind !== kind || !(claims.exp > now)) return undefined;
    return claims;
  }
}

function isClaims(v: unknown): v is AppClaims {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return ['operatorId', 'operator', 'role', 'sessionKey', 'deviceId', 'service', 'kind', 'jti'].every((k) => typeof c[k] === 'string') && typeof c.exp === 'number';
}
