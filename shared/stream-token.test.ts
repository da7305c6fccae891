import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyEdits, editArbitrary, loneSurrogate } from '../test/mutation.js';
import { expectDsError } from '../test/expect-error.js';
import { signStreamToken, verifyStreamToken, type StreamClaims } from './stream-token.js';
import { DsError, ErrorCode } from './errors.js';

const SECRET = Buffer.from('a stream-token secret of 32 bytes');
const OTHER_SECRET = Buffer.from('another secret, also long enough');
const NOW = 1_700_000_000;
const CLAIMS: StreamClaims = { sid: 'stream-1', side: 'device', dev: 'dev-1', exp: NOW + 60, jti: 'jti-1' };

const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const HEADER = b64url({ alg: 'HS256', typ: 'JWT' });

/** Signs any header and payload text the way HS256 does, independently of stream-token.ts. */
function handSign(secret: Buffer, header: string, payload: string): string {
  return `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
}

describe('signStreamToken / verifyStreamToken', () => {
  it('round-trips the claims', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    expect(verifyStreamToken(SECRET, token, NOW)).toEqual(CLAIMS);
    const service = { ...CLAIMS, side: 'service' as const, jti: 'jti-2' };
    expect(verifyStreamToken(SECRET, signStreamToken(SECRET, service), NOW)).toEqual(service);
  });

  it('is a standard HS256 JWT: header, payload and signature as an independent implementation computes them', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    const [header, payload, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString('utf8'))).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'))).toEqual(CLAIMS);
    expect(`${header}.${payload}.${signature}`).toBe(handSign(SECRET, header!, payload!));
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  it('generates a fresh jti when none is given', () => {
    const { jti: _omit, ...rest } = CLAIMS;
    const a = verifyStreamToken(SECRET, signStreamToken(SECRET, rest), NOW);
    const b = verifyStreamToken(SECRET, signStreamToken(SECRET, rest), NOW);
    expect(a.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.jti).not.toBe(b.jti);
  });

  it('accepts a token that expires this very second, rejects one a second later with 401003', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    expect(verifyStreamToken(SECRET, token, CLAIMS.exp).sid).toBe('stream-1');
    expectDsError(() => verifyStreamToken(SECRET, token, CLAIMS.exp + 1), ErrorCode.TokenExpired, /expired/);
  });

  it('checks the signature before the expiry (an expired forgery is still "does not verify")', () => {
    const token = signStreamToken(OTHER_SECRET, CLAIMS);
    expectDsError(() => verifyStreamToken(SECRET, token, CLAIMS.exp + 100), ErrorCode.Unauthorized, /signature does not verify/);
  });

  it('rejects a token signed with another secret', () => {
    expectDsError(() => verifyStreamToken(SECRET, signStreamToken(OTHER_SECRET, CLAIMS), NOW), ErrorCode.Unauthorized, /signature does not verify/);
  });

  it('rejects a tampered payload', () => {
    const [header, , signature] = signStreamToken(SECRET, CLAIMS).split('.');
    for (const forged of [{ ...CLAIMS, sid: 'stream-2' }, { ...CLAIMS, side: 'service' }, { ...CLAIMS, exp: CLAIMS.exp + 3600 }, { ...CLAIMS, dev: 'dev-2' }]) {
      expectDsError(() => verifyStreamToken(SECRET, `${header}.${b64url(forged)}.${signature}`, NOW), ErrorCode.Unauthorized, /signature does not verify/);
    }
  });

  it('rejects a tampered header, including alg "none"', () => {
    const [, payload, signature] = signStreamToken(SECRET, CLAIMS).split('.');
    expectDsError(() => verifyStreamToken(SECRET, `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`, NOW), ErrorCode.Unauthorized, /unsupported header/);
    expectDsError(() => verifyStreamToken(SECRET, `${b64url({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`, NOW), ErrorCode.Unauthorized, /unsupported header/);
    // Same JSON, different spelling: still not our header.
    expectDsError(() => verifyStreamToken(SECRET, `${b64url('{"typ":"JWT","alg":"HS256"}')}.${payload}.${signature}`, NOW), ErrorCode.Unauthorized, /unsupported header/);
    // Re-signed with the right secret under another header: still refused.
    expectDsError(() => verifyStreamToken(SECRET, handSign(SECRET, b64url({ alg: 'HS256' }), payload!), NOW), ErrorCode.Unauthorized, /unsupported header/);
  });

  it('rejects a tampered signature', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    for (const sig of ['', signature.slice(1), `${signature}AA`, flip(signature[0]!) + signature.slice(1), signature.slice(0, 20) + flip(signature[20]!) + signature.slice(21)]) {
      expectDsError(() => verifyStreamToken(SECRET, `${header}.${payload}.${sig}`, NOW), ErrorCode.Unauthorized, /signature does not verify/);
    }
  });

  // Node's base64url decoder skips characters outside the alphabet and ignores the spare low bits of
  // the last character, so many different signature strings decode to the same 32 bytes. Only the jti
  // (not the token text) is burned by the gateway, so this is not a replay hole today, but a tampered
  // token string must not verify (stream-token.ts line 48: compare `given.toString('base64url')` with
  // `signature`, or the expected MAC's base64url text with it, before/in place of the byte compare).
  it('[BUG] rejects a signature that is not the canonical base64url text of the MAC', () => {
    const token = signStreamToken(SECRET, CLAIMS);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const last = signature.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBits = alphabet[alphabet.indexOf(last) ^ 1]!; // differs only in the ignored low bits
    for (const sig of [`${signature}!!`, `${signature.slice(0, 10)}\n${signature.slice(10)}`, `${signature}=`, signature.slice(0, -1) + sameBits]) {
      expectDsError(() => verifyStreamToken(SECRET, `${header}.${payload}.${sig}`, NOW), ErrorCode.Unauthorized);
    }
  });

  describe('payload of the wrong shape (correctly signed) gives 401002', () => {
    const shapes: [string, unknown][] = [
      ['null', null],
      ['an array', [CLAIMS]],
      ['a string', 'stream-1'],
      ['a number', 42],
      ['missing sid', { ...CLAIMS, sid: undefined }],
      ['numeric sid', { ...CLAIMS, sid: 1 }],
      ['missing dev', { ...CLAIMS, dev: undefined }],
      ['missing jti', { ...CLAIMS, jti: undefined }],
      ['exp as a string', { ...CLAIMS, exp: String(CLAIMS.exp) }],
      ['missing exp', { ...CLAIMS, exp: undefined }],
      ['unknown side', { ...CLAIMS, side: 'admin' }],
      ['side in another case', { ...CLAIMS, side: 'Device' }],
    ];
    it.each(shapes)('%s', (_label, claims) => {
      const token = handSign(SECRET, HEADER, Buffer.from(JSON.stringify(claims)).toString('base64url'));
      expectDsError(() => verifyStreamToken(SECRET, token, NOW), ErrorCode.Unauthorized, /wrong shape/);
    });

    it('a payload that is not JSON', () => {
      expectDsError(() => verifyStreamToken(SECRET, handSign(SECRET, HEADER, b64url('not json {')), NOW), ErrorCode.Unauthorized, /not JSON/);
      expectDsError(() => verifyStreamToken(SECRET, handSign(SECRET, HEADER, ''), NOW), ErrorCode.Unauthorized, /not JSON/);
    });
  });

  describe('not a JWT, or too long, gives 401002', () => {
    it.each([
      ['empty', ''],
      ['one part', 'abc'],
      ['two parts', `${HEADER}.abc`],
      ['four parts', `${signStreamToken(SECRET, CLAIMS)}.x`],
      ['a SAS token', 'SharedAccessSignature sr=h&sig=x&se=1'],
      ['only dots', '..'],
    ])('%s', (_label, token) => {
      expectDsError(() => verifyStreamToken(SECRET, token, NOW), ErrorCode.Unauthorized);
    });

    it('overlong (> 2048 characters), even if correctly signed', () => {
      const token = signStreamToken(SECRET, { ...CLAIMS, sid: 's'.repeat(2000) });
      expect(token.length).toBeGreaterThan(2048);
      expectDsError(() => verifyStreamToken(SECRET, token, NOW), ErrorCode.Unauthorized, /too long/);
    });

    it('not a string', () => {
      expectDsError(() => verifyStreamToken(SECRET, undefined as unknown as string, NOW), ErrorCode.Unauthorized, /missing/);
      expectDsError(() => verifyStreamToken(SECRET, null as unknown as string, NOW), ErrorCode.Unauthorized, /missing/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based
// ---------------------------------------------------------------------------------------------

const anyChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 8, arbitrary: fc.constantFrom('.', '-', '_', '=', 'A', 'z', '0', '+', '/', ' ') },
  { weight: 1, arbitrary: loneSurrogate },
);

const editArb = editArbitrary(anyChar);

/** Only DsError 401xxx may escape. */
function verifyOrDsError(secret: Buffer, token: string, now: number): StreamClaims | undefined {
  try {
    return verifyStreamToken(secret, token, now);
  } catch (e) {
    if (!(e instanceof DsError)) throw e;
    expect([ErrorCode.Unauthorized, ErrorCode.TokenExpired]).toContain(e.code);
    return undefined;
  }
}

const claimsArb: fc.Arbitrary<StreamClaims> = fc.record({
  sid: fc.string({ unit: 'binary', maxLength: 40 }),
  side: fc.constantFrom('device' as const, 'service' as const),
  dev: fc.string({ unit: 'binary', maxLength: 40 }),
  exp: fc.integer({ min: 0, max: 2 ** 40 }),
  jti: fc.uuid(),
});
const nowArb = fc.integer({ min: 0, max: 2 ** 40 });
const b64urlChars = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 60 });

describe('properties', () => {
  it('sign → verify round-trips any claims before expiry; another secret never verifies', () => {
    fc.assert(
      fc.property(claimsArb, fc.uint8Array({ minLength: 16, maxLength: 64 }), (claims, other) => {
        fc.pre(!SECRET.equals(Buffer.from(other)));
        const token = signStreamToken(SECRET, claims);
        expect(verifyStreamToken(SECRET, token, claims.exp)).toEqual(claims);
        expectDsError(() => verifyStreamToken(Buffer.from(other), token, claims.exp), ErrorCode.Unauthorized);
        if (claims.exp < 2 ** 40) expectDsError(() => verifyStreamToken(SECRET, token, claims.exp + 1), ErrorCode.TokenExpired);
      }),
      { numRuns: 1000 },
    );
  });

  it('random strings and dot-separated base64url junk: only DsError (401xxx) escapes', () => {
    const junk = fc.oneof(
      fc.string({ unit: anyChar, maxLength: 200 }),
      fc.tuple(b64urlChars, b64urlChars, b64urlChars).map((parts) => parts.join('.')),
      b64urlChars.map((p) => `${HEADER}.${p}.${p}`),
    );
    fc.assert(
      fc.property(junk, nowArb, (token, now) => {
        expect(verifyOrDsError(SECRET, token, now)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('correctly signed arbitrary JSON payloads: claims of the right shape or DsError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), claimsArb.map((c) => ({ ...c, extra: 1 }))), nowArb, (value, now) => {
        const out = verifyOrDsError(SECRET, handSign(SECRET, HEADER, b64url(value)), now);
        if (out !== undefined) {
          expect(typeof out.sid).toBe('string');
          expect(typeof out.dev).toBe('string');
          expect(typeof out.jti).toBe('string');
          expect(['device', 'service']).toContain(out.side);
          expect(out.exp).toBeGreaterThanOrEqual(now);
          expect(Object.keys(out).sort()).toEqual(['dev', 'exp', 'jti', 'sid', 'side']);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid tokens: only DsError escapes, and whatever still verifies carries the original claims', () => {
    fc.assert(
      fc.property(claimsArb, fc.array(editArb, { minLength: 1, maxLength: 4 }), (claims, edits) => {
        const token = applyEdits(signStreamToken(SECRET, claims), edits);
        const out = verifyOrDsError(SECRET, token, 0);
        if (out !== undefined) expect(out).toEqual(claims);
      }),
      { numRuns: 2000 },
    );
  });
});
