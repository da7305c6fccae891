/**
 * SAS authentication of services (policy keys) and devices (device keys, or a policy with
 * DeviceConnect), as Azure IoT Hub does it. Every failure is a DsError with a 401/403 code.
 */
import { DsError, ErrorCode } from '../../shared/errors.js';
import { checkSasExpiry, parseSasToken, sasSignatureMatches, type ParsedSasToken } from '../../shared/sas.js';
import type { DeviceRecord, PolicyRecord, Right, Store } from '../store/store.js';

/**
 * How long a policy read from the store is reused. Policies are read on every service call and
 * change rarely (the CLI rotates keys); a few seconds keep a busy hub off the store for them.
 */
const POLICY_CACHE_MS = 5000;

export interface PolicyPrincipal {
  policy: string;
  rights: ReadonlySet<Right>;
}

/** Lower-cased names a token's `sr` may carry for this hub: each with and without its port. */
export function acceptedHostNames(hostNames: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const h of hostNames) {
    const lower = h.toLowerCase();
    out.add(lower);
    out.add(lower.replace(/:\d+$/, ''));
  }
  return out;
}

function normalizeResource(resource: string): string {
  return resource.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

export class Authenticator {
  readonly #store: Store;
  readonly #hosts: Set<string>;
  readonly #now: () => number;
  readonly #policies = new Map<string, { at: number; policy: PolicyRecord | undefined }>();

  constructor(store: Store, hostNames: readonly string[], now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#store = store;
    this.#hosts = acceptedHostNames(hostNames);
    this.#now = now;
  }

  #parse(header: string | undefined): ParsedSasToken {
    if (header === undefined || header === '') {
      throw new DsError(ErrorCode.MissingCredentials, 'missing Authorization header; send a SharedAccessSignature token');
    }
    const token = parseSasToken(header);
    checkSasExpiry(token, this.#now());
    return token;
  }

  async #policy(name: string): Promise<PolicyRecord | undefined> {
    const now = Date.now();
    const hit = this.#policies.get(name);
    if (hit !== undefined && now - hit.at < POLICY_CACHE_MS) return hit.policy;
    const policy = await this.#store.policies.get(name);
    // Bounded: unknown names (anyone can send one) are not remembered beyond a few.
    if (this.#policies.size > 64) this.#policies.clear();
    this.#policies.set(name, { at: now, policy });
    return policy;
  }

  /** Authenticates a service call and checks that its policy has one of `anyOf`. */
  async service(header: string | undefined, anyOf: readonly Right[]): Promise<PolicyPrincipal> {
    const token = this.#parse(header);
    const resource = normalizeResource(token.resource);
    if (!this.#hosts.has(resource)) {
      throw new DsError(ErrorCode.WrongScope, `SAS token is for "${token.resource}", not for this hub`);
    }
    if (token.keyName === undefined) throw new DsError(ErrorCode.WrongScope, 'service calls need a policy token (skn=…)');
    const policy = await this.#policy(token.keyName);
    if (policy === undefined || !(sasSignatureMatches(token, policy.primaryKey) || sasSignatureMatches(token, policy.secondaryKey))) {
      throw new DsError(ErrorCode.Unauthorized, 'SAS token signature does not verify');
    }
    if (!anyOf.some((r) => policy.rights.has(r))) {
      throw new DsError(ErrorCode.Forbidden, `policy "${policy.name}" lacks ${anyOf.join(' or ')}`);
    }
    return { policy: policy.name, rights: policy.rights };
  }

  /**
   * Authenticates whichever device the token names (its signature checked as for its own control
   * channel); for calls that name no device in the path, so nothing is looked up before the caller
   * is known.
   */
  async anyDevice(header: string | undefined): Promise<DeviceRecord> {
    return this.device(header, this.#tokenDevice(this.#parse(header)).deviceId);
  }

  #tokenDevice(token: ParsedSasToken): { host: string; deviceId: string } {
    const resource = normalizeResource(token.resource);
    const slash = resource.indexOf('/devices/');
    const host = slash < 0 ? resource : resource.slice(0, slash);
    const raw = slash < 0 ? '' : token.resource.replace(/\/+$/, '').slice(token.resource.toLowerCase().indexOf('/devices/') + 9);
    try {
      return { host, deviceId: decodeURIComponent(raw) };
    } catch {
      throw new DsError(ErrorCode.Unauthorized, 'SAS token resource is not valid URL encoding');
    }
  }

  /** Authenticates a device for its own control channel; returns its registry record. */
  async device(header: string | undefined, deviceId: string): Promise<DeviceRecord> {
    const token = this.#parse(header);
    const { host, deviceId: tokenDevice } = this.#tokenDevice(token);
    if (!this.#hosts.has(host) || tokenDevice !== deviceId) {
      throw new DsError(ErrorCode.WrongScope, `SAS token is for "${token.resource}", not for device "${deviceId}" on this hub`);
    }
    const device = await this.#store.devices.get(deviceId);
    let ok = false;
    if (token.keyName !== undefined) {
      const policy = await this.#policy(token.keyName);
      ok = policy !== undefined && policy.rights.has('DeviceConnect') &&
        (sasSignatureMatches(token, policy.primaryKey) || sasSignatureMatches(token, policy.secondaryKey));
    } else if (device !== undefined) {
      ok = sasSignatureMatches(token, device.primaryKey) || sasSignatureMatches(token, device.secondaryKey);
    }
    if (!ok || device === undefined) throw new DsError(ErrorCode.Unauthorized, 'SAS token signature does not verify for this device');
    if (device.status !== 'enabled') throw new DsError(ErrorCode.DeviceDisabled, `device "${deviceId}" is disabled`);
    return device;
  }
}
