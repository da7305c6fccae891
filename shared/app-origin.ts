/**
 * App origins: each (device, service) pair a device's web UI is reached through has an origin of its
 * own, `https://{label}.{apps-domain}[:port]`, so its scripts share nothing with the console or with
 * another device's app. Browser-safe.
 *
 * The label, reversibly:
 * - `{device}--{service}` when both are lower-case letters and digits with single inner hyphens
 *   (a valid DNS label piece that cannot hold the `--` separator) and the device id is neither `x`
 *   nor `xn` (reserved: `x--…` is the encoded form, `xn--…` is IDNA's punycode prefix);
 * - otherwise `x--{base32}`: RFC 4648 base32 in lower case without padding of the UTF-8 bytes of
 *   `{device}/{service}` (`/` occurs in neither a device id nor a stream name).
 * A label is at most 63 characters (DNS); longer pairs are refused with AppLabelTooLong.
 */
import { DEVICE_ID_PATTERN, STREAM_NAME_PATTERN } from './limits.js';

/** The apps domain when `--apps-domain` is not given: Chromium resolves every `*.localhost` to loopback. */
export const DEFAULT_APPS_DOMAIN = 'apps.localhost';
/** The reserved path on an app origin that turns a handoff token into the app's cookie. */
export const HANDOFF_PATH = '/__devicestreams/handoff';
export const MAX_LABEL_CHARS = 63;

const PLAIN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why a device/service pair has no app origin (too long for a DNS label, or not a valid id or name). */
export class AppLabelError extends Error {
  readonly reason: 'tooLong' | 'invalid';

  constructor(reason: 'tooLong' | 'invalid', message: string) {
    super(message);
    this.name = 'AppLabelError';
    this.reason = reason;
  }
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  // Canonical only: leftover bits must be zero padding, so each pair has exactly one label.
  if (bits >= 5 || value !== 0) return undefined;
  return Uint8Array.from(out);
}

/** The host label of a device's service; throws AppLabelError when there can be none. */
export function appLabel(deviceId: string, service: string): string {
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new AppLabelError('invalid', `"${deviceId}" is not a device id`);
  if (!STREAM_NAME_PATTERN.test(service)) throw new AppLabelError('invalid', `"${service}" is not a service name (1-64 letters, digits and - . _)`);
  const label = PLAIN.test(deviceId) && PLAIN.test(service) && deviceId !== 'x' && deviceId !== 'xn'
    ? `${deviceId}--${service}`
    : `x--${base32(new TextEncoder().encode(`${deviceId}/${service}`))}`;
  if (label.length > MAX_LABEL_CHARS) {
    throw new AppLabelError('tooLong', `the app origin of "${service}" on "${deviceId}" would need a ${label.length}-character host label, more than DNS allows (${MAX_LABEL_CHARS}); use a shorter device id (lower-case letters, digits and single hyphens use fewest) or service name`);
  }
  return label;
}

/** The device and service a label names, or undefined when it is not a label `appLabel` makes. */
export function parseAppLabel(label: string): { deviceId: string; service: string } | undefined {
  if (label.length > MAX_LABEL_CHARS) return undefined;
  let deviceId: string;
  let service: string;
  if (label.startsWith('x--')) {
    const bytes = unbase32(label.slice(3));
    if (bytes === undefined) return undefined;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    deviceId = text.slice(0, slash);
    service = text.slice(slash + 1);
  } else {
    const sep = label.indexOf('--');
    if (sep < 0) return undefined;
    deviceId = label.slice(0, sep);
    service = label.slice(sep + 2);
  }
  // Whatever decodes must also encode back to the same label: one label per pair, no aliases.
  try {
    return appLabel(deviceId, service) === label ? { deviceId, service } : undefined;
  } catch {
    return undefined;
  }
}

/** Checks an `--apps-domain` value (lower-case DNS name of two or more labels); returns it normalised. */
export function normaliseAppsDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  const labels = d.split('.');
  if (labels.length < 2 || d.length > 200 || !labels.every((l) => DOMAIN_LABEL.test(l))) {
    throw new AppLabelError('invalid', `"${domain}" is not a DNS name of two or more labels (e.g. apps.example.com)`);
  }
  return d;
}

/** The app label in a Host header (`label.apps-domain[:port]`), or undefined when the host is not under the apps domain. */
export function appLabelOfHost(host: string | undefined, appsDomain: string): string | undefined {
  if (host === undefined) return undefined;
  const name = host.toLowerCase().replace(/:\d{1,5}$/, '').replace(/\.$/, '');
  const suffix = `.${appsDomain}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  return label === '' || label.includes('.') ? undefined : label;
}

/** True when the Host header names the apps domain or any host under it (so the console never answers it). */
export function isAppsHost(host: string | undefined, appsDomain: string): boolean {
  if (host === undefined) return false;
  const name = host.toLowerCase().replace(/:\d{1,5}$/, '').replace(/\.$/, '');
  return name === appsDomain || name.endsWith(`.${appsDomain}`);
}

/** The origin of a device's service: scheme and port as the console's public URL has them. */
export function appOrigin(publicUrl: string, appsDomain: string, deviceId: string, service: string): string {
  const pub = new URL(publicUrl);
  return `${pub.protocol}//${appLabel(deviceId, service)}.${appsDomain}${pub.port === '' ? '' : `:${pub.port}`}`;
}
