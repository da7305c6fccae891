/**
 * Device enrollment: the wire shapes and the checks every side shares (hub, CLI, console, web).
 *
 * An admin creates a one-use, short-lived enrollment token for a device id or a name pattern, with
 * the tags the device gets and the services its agent maps. The installer on the device exchanges
 * it at `POST /enroll` for the device's own connection string, over TLS:
 *
 *   POST /enrollment-tokens  (SAS: a policy with RegistryWrite or Enroll)  EnrollmentTokenRequest
 *        → 200 EnrollmentTokenCreated
 *   POST /enroll             (no credentials but the token)                 EnrollRequest
 *        → 200 EnrollAnswer | 401005 not a token | 401006 expired | 409002 used | 403003 refused
 *
 * A pattern has `*` as its only wildcard, matching one or more characters; the device then names
 * itself at enrollment (the installer sends the machine's host name unless told otherwise) and
 * that id must match. Browser-safe and light (no zod: the console's bundle imports it); the servers'
 * request schemas are in enrollment-schema.ts.
 */
import { DEVICE_ID_PATTERN, STREAM_NAME_PATTERN } from './limits.js';

/** How long a token lives unless asked otherwise, and the longest it may live. */
export const DEFAULT_ENROLLMENT_TTL_SECONDS = 3600;
export const MAX_ENROLLMENT_TTL_SECONDS = 24 * 3600;
/** At most this many tags and services on one token. */
export const MAX_ENROLLMENT_TAGS = 32;
export const MAX_ENROLLMENT_MAPS = 32;
/** The services the installer maps to the kit's own servers (shell server, file server) by name alone. */
export const BUILTIN_SERVICES = ['shell', 'files'] as const;

const TAG_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
/** Printable ASCII without the characters a shell or a config line would trip on. */
const TAG_VALUE = /^[A-Za-z0-9 _.,:/@+=-]{0,128}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])$/;

/** A result of the parsers below: the value, or a sentence saying what is wrong. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** `KEY=VALUE` → a tag. */
export function parseTag(text: string): Checked<[string, string]> {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  if (eq < 0 || !TAG_KEY.test(key)) return { ok: false, error: `tag "${text.slice(0, 80)}" must be KEY=VALUE, KEY of 1-64 letters, digits and _ . -` };
  const value = text.slice(eq + 1);
  if (!TAG_VALUE.test(value)) return { ok: false, error: `tag ${key}'s value must be at most 128 letters, digits, spaces and _ . , : / @ + = -` };
  return { ok: true, value: [key, value] };
}

/**
 * A service to map: `shell` or `files` (the kit's own servers), or `NAME=HOST:PORT` for a TCP
 * service on the device (`ssh=127.0.0.1:22`, `http=[::1]:80`). Returned normalised.
 */
export function parseMap(text: string): Checked<string> {
  if ((BUILTIN_SERVICES as readonly string[]).includes(text)) return { ok: true, value: text };
  const bad = (why: string): Checked<string> => ({ ok: false, error: `service "${text.slice(0, 80)}" ${why}` });
  const eq = text.indexOf('=');
  if (eq < 0) return bad(`must be ${BUILTIN_SERVICES.join(' or ')}, or NAME=HOST:PORT (e.g. ssh=127.0.0.1:22)`);
  const name = text.slice(0, eq);
  if (!STREAM_NAME_PATTERN.test(name)) return bad('has a name that is not 1-64 letters, digits and - . _');
  if ((BUILTIN_SERVICES as readonly string[]).includes(name)) return bad(`maps "${name}", which is the kit's own ${name} server; give it as just "${name}"`);
  const target = text.slice(eq + 1);
  const colon = target.lastIndexOf(':');
  const host = colon < 0 ? '' : target.slice(0, colon);
  const port = colon < 0 ? '' : target.slice(colon + 1);
  if (!HOST.test(host)) return bad('needs HOST:PORT after the = (a host name, an IPv4 address or [IPv6])');
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return bad('needs a port from 1 to 65535');
  return { ok: true, value: `${name}=${host}:${Number(port)}` };
}

/** The stream name a service maps. */
export function serviceName(map: string): string {
  const eq = map.indexOf('=');
  return eq < 0 ? map : map.slice(0, eq);
}

/** `90`, `90s`, `30m`, `1h`, `1h30m` → seconds; from 1 s to MAX_ENROLLMENT_TTL_SECONDS. */
export function parseTtl(text: string): Checked<number> {
  const m = /^(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,6})s?)?$/.exec(text.trim());
  const seconds = m === null || text.trim() === '' ? NaN : Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  if (!Number.isFinite(seconds) || seconds < 1) return { ok: false, error: `TTL "${text.slice(0, 40)}" must be a duration like 90s, 30m, 1h or 1h30m` };
  if (seconds > MAX_ENROLLMENT_TTL_SECONDS) return { ok: false, error: `TTL "${text.slice(0, 40)}" is longer than ${MAX_ENROLLMENT_TTL_SECONDS / 3600} h, the most a token may live` };
  return { ok: true, value: seconds };
}

/** True when `target` names devices by pattern (it has a `*`). */
export function isPattern(target: string): boolean {
  return target.includes('*');
}

/** Whether `deviceId` matches `pattern` (`*` = one or more characters, everything else literal). */
export function matchesPattern(pattern: string, deviceId: string): boolean {
  const parts = pattern.split('*');
  const re = new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
  return re.test(deviceId);
}

/** A device id, or a pattern with at least one literal character besides its `*`s. */
export function targetOk(target: string): boolean {
  return DEVICE_ID_PATTERN.test(target) && (!isPattern(target) || target.replace(/\*/g, '') !== '');
}

/** What an admin asks for (the body of POST /enrollment-tokens; checked by enrollment-schema.ts). */
export interface EnrollmentTokenRequest {
  /** A device id, or a pattern such as `sensor-*`. */
  target: string;
  tags?: Record<string, string>;
  /** `shell`, `files`, `NAME=HOST:PORT`. */
  maps?: string[];
  /** Default DEFAULT_ENROLLMENT_TTL_SECONDS. */
  ttlSeconds?: number;
}

/** What the hub answers when it made a token. The token is shown once: the hub keeps only its hash. */
export interface EnrollmentTokenCreated {
  /** The public part of the token (its id), for logs and the store. */
  tokenId: string;
  /** The whole token, secret included. */
  token: string;
  target: string;
  pattern: boolean;
  tags: Record<string, string>;
  maps: string[];
  /** ISO time. */
  expiresAt: string;
  /** The one line to paste on the device (install script, token and the CA's fingerprint). */
  installCommand: string;
}

/** The body of POST /enroll. */
export interface EnrollRequest {
  token: string;
  /** The device's id: required for a pattern token (and must match it), else optional (must equal the token's). */
  deviceId?: string | undefined;
}

/** The answer to POST /enroll; the installer writes it into the agent's configuration. */
export interface EnrollAnswer {
  deviceId: string;
  /** `host[:port]` the connection string names. */
  hostName: string;
  connectionString: string;
  maps: string[];
  tags: Record<string, string>;
}
