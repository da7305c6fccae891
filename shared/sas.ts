/**
 * Shared access signature tokens, the algorithm of Azure IoT Hub:
 * `SharedAccessSignature sr={urlenc(resource)}&sig={urlenc(base64(HMAC-SHA256(base64dec(key),
 * urlenc(resource) + "\n" + se)))}&se={unix seconds}[&skn={policy}]`.
 * Node-only (node:crypto).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DsError, ErrorCode } from './errors.js';
import { CLOCK_SKEW_SECONDS, MAX_SAS_LIFETIME_SECONDS } from './limits.js';

const PREFIX = 'SharedAccessSignature ';
const MAX_TOKEN_LENGTH = 4096;

/** Like encodeURIComponent but also encodes !'()*, as Azure's clients do. */
export function encodeUriComponentStrict(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sign(key: string, encodedResource: string, expiry: number): Buffer {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${encodedResource}\n${expiry}`).digest();
}

export interface CreateSasOptions {
  /** The resource the token is for: a host name, or `{host}/devices/{deviceId}`. */
  resource: string;
  /** The base64 key. */
  key: string;
  /** The policy name (service tokens); omitted for device-key tokens. */
  keyName?: string;
  /** Expiry, unix seconds. */
  expiry: number;
}

/** Creates a token string. */
export function createSasToken(options: CreateSasOptions): string {
  const sr = encodeUriComponentStrict(options.resource);
  const sig = sign(options.key, sr, options.expiry).toString('base64');
  let token = `${PREFIX}sr=${sr}&sig=${encodeUriComponentStrict(sig)}&se=${options.expiry}`;
  if (options.keyName !== undefined) token += `&skn=${encodeUriComponentStrict(options.keyName)}`;
  return token;
}

/** The resource of a device key: `{host}/devices/{deviceId}`. */
export function deviceResource(hostName: string, deviceId: string): string {
  return `${hostName}/devices/${encodeUriComponentStrict(deviceId)}`;
}

/** A token taken apart; nothing in it is trusted yet. */
export interface ParsedSasToken {
  /** `sr` exactly as it appeared (still URL-encoded): the signature covers this text. */
  rawResource: string;
  /** `sr` decoded. */
  resource: string;
  signature: Buffer;
  expiry: number;
  keyName: string | undefined;
}

function unauthorized(message: string): DsError {
  return new DsError(ErrorCode.Unauthorized, message);
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw unauthorized(`SAS token ${what} is not valid URL encoding`);
  }
}

/** Takes a token apart; throws DsError(Unauthorized) when it is malformed. */
export function parseSasToken(token: string): ParsedSasToken {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw unauthorized('SAS token missing or too long');
  // Tokens are URL-encoded ASCII; anything else cannot be one (and would break re-encoding below).
  if (!/^[\x20-\x7e]*$/.test(token)) throw unauthorized('SAS token must be printable ASCII (URL-encoded)');
  const body = token.startsWith(PREFIX) ? token.slice(PREFIX.length).trim() : undefined;
  if (body === undefined) throw unauthorized('authorization must start with "SharedAccessSignature "');
  const fields = new Map<string, string>();
  for (const pair of body.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw unauthorized('SAS token field is not NAME=VALUE');
    const name = pair.slice(0, eq);
    if (fields.has(name)) throw unauthorized(`SAS token has ${name} twice`);
    fields.set(name, pair.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (sr === undefined || sig === undefined || se === undefined) throw unauthorized('SAS token needs sr, sig and se');
  if (!/^\d{1,12}$/.test(se)) throw unauthorized('SAS token se must be unix seconds');
  const sigText = decode(sig, 'sig');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(sigText)) throw unauthorized('SAS token sig is not a base64 SHA-256 HMAC');
  const skn = fields.get('skn');
  return {
    rawResource: sr,
    resource: decode(sr, 'sr'),
    signature: Buffer.from(sigText, 'base64'),
    expiry: Number(se),
    keyName: skn === undefined ? undefined : decode(skn, 'skn'),
  };
}

/** Checks expiry with the allowed skew; throws DsError(TokenExpired). */
export function checkSasExpiry(parsed: ParsedSasToken, nowSeconds: number): void {
  if (parsed.expiry + CLOCK_SKEW_SECONDS < nowSeconds) throw new DsError(ErrorCode.TokenExpired, 'SAS token has expired; create a fresh one');
  if (parsed.expiry > nowSeconds + MAX_SAS_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new DsError(ErrorCode.TokenExpired, 'SAS token expires further ahead than the hub allows (one year)');
  }
}

/**
 * True when the signature was made with `key`. The HMAC covers `sr` as it appeared in the token;
 * constant-time comparison. A token whose sr was encoded differently from ours is checked with our
 * strict encoding as well, since clients differ in which characters they escape.
 */
export function sasSignatureMatches(parsed: ParsedSasToken, key: string): boolean {
  const candidates = new Set([parsed.rawResource, encodeUriComponentStrict(parsed.resource)]);
  let ok = false;
  for (const encoded of candidates) {
    const expected = sign(key, encoded, parsed.expiry);
    // Both are 32 bytes (the parser checks the length), so timingSafeEqual cannot throw.
    if (expected.length === parsed.signature.length && timingSafeEqual(expected, parsed.signature)) ok = true;
  }
  return ok;
}
