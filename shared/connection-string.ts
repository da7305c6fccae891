/**
 * Connection strings in Azure IoT Hub's shape. Device: `HostName=…;DeviceId=…;SharedAccessKey=…`.
 * Service: `HostName=…;SharedAccessKeyName=…;SharedAccessKey=…`. Parts are split on `;`, then on
 * the first `=` (keys are base64 and end in `=`). Browser-safe.
 */
import { DsError, ErrorCode } from './errors.js';

export interface DeviceConnectionString {
  kind: 'device';
  hostName: string;
  deviceId: string;
  sharedAccessKey: string;
}

export interface ServiceConnectionString {
  kind: 'service';
  hostName: string;
  sharedAccessKeyName: string;
  sharedAccessKey: string;
}

export type ConnectionString = DeviceConnectionString | ServiceConnectionString;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;

function fail(message: string): never {
  throw new DsError(ErrorCode.ArgumentInvalid, `invalid connection string: ${message}`);
}

/** Splits a connection string into its named parts; duplicate or empty names are errors. */
function parts(text: string): Map<string, string> {
  if (typeof text !== 'string' || text.trim() === '') fail('it is empty');
  const map = new Map<string, string>();
  for (const raw of text.trim().split(';')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    if (eq <= 0 || raw.slice(0, eq).trim() === '') fail(`"${raw.slice(0, 20)}" is not NAME=VALUE`);
    const name = raw.slice(0, eq).trim();
    const value = raw.slice(eq + 1).trim();
    if (map.has(name)) fail(`${name} appears twice`);
    if (value === '') fail(`${name} is empty`);
    map.set(name, value);
  }
  return map;
}

function need(map: Map<string, string>, name: string): string {
  const v = map.get(name);
  if (v === undefined) fail(`${name} is missing`);
  return v;
}

function checkCommon(hostName: string, key: string): void {
  if (!HOST.test(hostName)) fail('HostName must be a host name, optionally with :port');
  if (!BASE64.test(key) || key.length < 16) fail('SharedAccessKey must be base64 (at least 16 characters)');
}

/** Parses either form; throws DsError(ArgumentInvalid) naming what is wrong. */
export function parseConnectionString(text: string): ConnectionString {
  const map = parts(text);
  const hostName = need(map, 'HostName');
  const sharedAccessKey = need(map, 'SharedAccessKey');
  checkCommon(hostName, sharedAccessKey);
  const deviceId = map.get('DeviceId');
  const keyName = map.get('SharedAccessKeyName');
  if (deviceId !== undefined && keyName !== undefined) fail('it has both DeviceId and SharedAccessKeyName');
  if (deviceId !== undefined) return { kind: 'device', hostName, deviceId, sharedAccessKey };
  if (keyName !== undefined) return { kind: 'service', hostName, sharedAccessKeyName: keyName, sharedAccessKey };
  return fail('it needs DeviceId (device) or SharedAccessKeyName (service)');
}

/** Parses a device connection string, or throws saying a service one was given. */
export function parseDeviceConnectionString(text: string): DeviceConnectionString {
  const cs = parseConnectionString(text);
  if (cs.kind !== 'device') fail('this is a service connection string; a device one has DeviceId=');
  return cs;
}

/** Parses a service connection string, or throws saying a device one was given. */
export function parseServiceConnectionString(text: string): ServiceConnectionString {
  const cs = parseConnectionString(text);
  if (cs.kind !== 'service') fail('this is a device connection string; a service one has SharedAccessKeyName=');
  return cs;
}

/** Builds the text form of either kind. */
export function buildConnectionString(cs: ConnectionString): string {
  return cs.kind === 'device'
    ? `HostName=${cs.hostName};DeviceId=${cs.deviceId};SharedAccessKey=${cs.sharedAccessKey}`
    : `HostName=${cs.hostName};SharedAccessKeyName=${cs.sharedAccessKeyName};SharedAccessKey=${cs.sharedAccessKey}`;
}
