/**
 * Enrollment tokens: made for an admin, exchanged once by a device for its own identity.
 *
 * A token is `ds1.{id}.{secret}`: 8 random bytes of id (hex; how the store finds it) and 32 of
 * secret (base64url). The store keeps the secret's SHA-256 only, compared in constant time. A use
 * is one conditional UPDATE in the store (unused and unexpired → used by this device), so of two
 * uses at once, on any nodes, one wins and the other is told the token was used.
 *
 * Devices a token may register:
 *  - a token for a device id registers that id. If the device exists already, is enabled and has
 *    no agent connected, it is enrolled again: new keys (the old ones stop working) and the
 *    token's tags — the way to bring back a device whose disk was wiped. A device that has an agent
 *    connected, or is disabled, is refused: a token must not take a live device over.
 *  - a token for a pattern (`sensor-*`) registers one new device whose id the device names
 *    (the installer sends the host name) and that matches the pattern; it never takes over a
 *    device that exists.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { buildConnectionString } from '../../shared/connection-string.js';
import {
  isPattern,
  matchesPattern,
  type EnrollAnswer,
  type EnrollmentTokenCreated,
  type EnrollRequest,
} from '../../shared/enrollment.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { newKey } from '../store/keys.js';
import type { DeviceRecord, EnrollmentTokenRecord, Store } from '../store/store.js';

const TOKEN = /^ds1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;
/** Used and expired tokens are kept this long (so a late use hears when and by whom), then dropped. */
const KEEP_SPENT_MS = 7 * 24 * 3600 * 1000;

/** SHA-256 of a token's secret, hex: what the store keeps. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new token: its id, its secret and the text handed out. */
export function makeToken(): { id: string; secret: string; token: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `ds1.${id}.${secret}` };
}

/** The parts of a token's text, or undefined when it cannot be one. */
export function parseToken(text: string): { id: string; secret: string } | undefined {
  const m = TOKEN.exec(text.trim());
  return m === null ? undefined : { id: m[1] as string, secret: m[2] as string };
}

/** The spec of a token, already validated (shared/enrollment.ts enrollmentTokenRequestSchema). */
export interface TokenSpec {
  target: string;
  tags: Record<string, string>;
  maps: string[];
  ttlSeconds: number;
}

export interface EnrollmentOptions {
  store: Store;
  /** `host[:port]` the connection strings name. */
  hostName: string;
  /** The line to paste on the device for a token. */
  installCommand: (token: string, pattern: boolean) => string;
  /** A device was registered or enrolled again (the registry's change feed). */
  changed: (deviceId: string) => void;
  /** Drops whatever connection a re-enrolled device still has (its keys changed). */
  revoke: (deviceId: string) => Promise<void>;
  log: (line: string) => void;
  now?: () => number;
}

const invalid = (): DsError =>
  new DsError(ErrorCode.EnrollmentTokenInvalid, 'not a valid enrollment token: this hub did not make it (or it was mistyped or cut short); copy the install command again');

function howToRenew(target: string): string {
  // Quoted when a shell would expand it (a pattern's *).
  const word = /^[A-Za-z0-9._:@%=-]+$/.test(target) ? target : `'${target.replace(/'/g, `'\\''`)}'`;
  return `create a new one with: devicestreams device enroll-token ${word} (or Add device in the console)`;
}

export class Enrollment {
  readonly #o: EnrollmentOptions;
  readonly #now: () => number;

  constructor(o: EnrollmentOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Makes a token for `spec`; `createdBy` is recorded (the policy, and the operator it acts for). */
  async create(spec: TokenSpec, createdBy: string): Promise<EnrollmentTokenCreated> {
    const pattern = isPattern(spec.target);
    const now = this.#now();
    if (!pattern) {
      // Said now rather than on the device, an hour later.
      const d = await this.#o.store.devices.get(spec.target);
      if (d !== undefined) this.#refuseTakeover(d);
    }
    const { id, secret, token } = makeToken();
    const expiresAt = now + spec.ttlSeconds * 1000;
    await this.#o.store.enrollment.create({
      id, secretHash: hashSecret(secret), target: spec.target, pattern, tags: spec.tags, maps: spec.maps, createdBy, createdAt: now, expiresAt,
    });
    await this.#o.store.enrollment.deleteExpired(now - KEEP_SPENT_MS);
    this.#o.log(`enrollment token ${id} for ${pattern ? 'pattern ' : 'device '}${spec.target} created by ${createdBy}, valid until ${new Date(expiresAt).toISOString()}`);
    return {
      tokenId: id, token, target: spec.target, pattern, tags: spec.tags, maps: spec.maps,
      expiresAt: new Date(expiresAt).toISOString(),
      installCommand: this.#o.installCommand(token, pattern),
    };
  }

  /** An existing device a token must not enroll again: one with an agent connected, or disabled. */
  #refuseTakeover(d: DeviceRecord): void {
    if (d.status !== 'enabled') {
      throw new DsError(ErrorCode.EnrollmentRefused, `device "${d.deviceId}" is disabled; enable it (devicestreams device enable ${d.deviceId}) before enrolling it again`);
    }
    if (d.connectedNode !== null) {
      throw new DsError(ErrorCode.EnrollmentRefused, `device "${d.deviceId}" has an agent connected now; an enrollment token does not take a connected device over (delete the device first to replace it)`);
    }
  }

  /** Finds and checks the token; throws the typed refusal that says why it cannot be used. */
  async #usable(text: string): Promise<EnrollmentTokenRecord> {
    const parts = parseToken(text);
    if (parts === undefined) throw invalid();
    const rec = await this.#o.store.enrollment.get(parts.id);
    // The hash is compared even for an unknown id, so both take the same time.
    const given = Buffer.from(hashSecret(parts.secret), 'hex');
    const stored = Buffer.from((rec?.secretHash ?? '').padEnd(64, '0').slice(0, 64), 'hex');
    if (!timingSafeEqual(given, stored) || rec === undefined) throw invalid();
    this.#refuseSpent(rec);
    return rec;
  }

  #refuseSpent(rec: EnrollmentTokenRecord): void {
    if (rec.usedAt !== null) {
      throw new DsError(ErrorCode.EnrollmentTokenUsed, `this enrollment token was already used on ${new Date(rec.usedAt).toISOString()} by device "${rec.usedBy ?? '?'}"; ${howToRenew(rec.target)}`);
    }
    if (rec.expiresAt <= this.#now()) {
      throw new DsError(ErrorCode.EnrollmentTokenExpired, `this enrollment token expired at ${new Date(rec.expiresAt).toISOString()}; ${howToRenew(rec.target)}`);
    }
  }

  /** The device id a use of `rec` registers. */
  #deviceIdFor(rec: EnrollmentTokenRecord, requested: string | undefined): string {
    if (!rec.pattern) {
      if (requested !== undefined && requested !== rec.target) {
        throw new DsError(ErrorCode.EnrollmentRefused, `this enrollment token is for device "${rec.target}", not "${requested}"`);
      }
      return rec.target;
    }
    if (requested === undefined || requested === '') {
      throw new DsError(ErrorCode.InvalidRequest, `this enrollment token is for devices named ${rec.target}: send the device's id as "deviceId" (the installer sends the host name)`);
    }
    if (!DEVICE_ID_PATTERN.test(requested) || requested.includes('*')) {
      throw new DsError(ErrorCode.InvalidRequest, `"${requested.slice(0, 128)}" cannot be a device id: use 1-128 letters, digits and -.%_?!(),:=@$'`);
    }
    if (!matchesPattern(rec.target, requested)) {
      throw new DsError(ErrorCode.EnrollmentRefused, `this enrollment token is for devices named ${rec.target}; "${requested}" does not match it`);
    }
    return requested;
  }

  /** Exchanges a token for a device identity; changes nothing when it refuses. */
  async redeem(body: EnrollRequest): Promise<EnrollAnswer> {
    const rec = await this.#usable(body.token);
    const deviceId = this.#deviceIdFor(rec, body.deviceId);
    const existing = await this.#o.store.devices.get(deviceId);
    if (existing !== undefined) {
      if (rec.pattern) {
        throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${deviceId}" is registered already, and a pattern's token only registers new devices; choose another id, or have an admin make a token for "${deviceId}"`);
      }
      this.#refuseTakeover(existing);
    }
    const at = this.#now();
    const used = await this.#o.store.enrollment.consume(rec.id, deviceId, at);
    if (used === undefined) {
      // Another use won, or it expired in between: say which.
      const now = await this.#o.store.enrollment.get(rec.id);
      if (now !== undefined) this.#refuseSpent(now);
      throw invalid();
    }
    let device: DeviceRecord | undefined;
    try {
      const write = { status: 'enabled' as const, statusReason: null, primaryKey: newKey(), secondaryKey: newKey(), tags: rec.tags };
      device = existing === undefined ? await this.#o.store.devices.create(deviceId, write) : await this.#o.store.devices.update(deviceId, write);
    } catch (err) {
      await this.#o.store.enrollment.release(rec.id, deviceId).catch(() => undefined);
      throw err;
    }
    if (device === undefined) {
      // Registered (or deleted) by someone else between the check and now: the token stays good.
      await this.#o.store.enrollment.release(rec.id, deviceId);
      throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${deviceId}" changed in the registry while enrolling; try again`);
    }
    if (existing !== undefined) await this.#o.revoke(deviceId);
    this.#o.changed(deviceId);
    this.#o.log(`device ${deviceId} ${existing === undefined ? 'registered' : 'enrolled again (new keys)'} with enrollment token ${rec.id} (made by ${rec.createdBy})`);
    return {
      deviceId,
      hostName: this.#o.hostName,
      connectionString: buildConnectionString({ kind: 'device', hostName: this.#o.hostName, deviceId, sharedAccessKey: device.primaryKey }),
      maps: rec.maps,
      tags: rec.tags,
    };
  }
}
