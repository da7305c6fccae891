/** Random values the registry makes: keys and etags. Engine-independent. */
import { randomBytes } from 'node:crypto';
import type { Right } from './records.js';

/** A fresh 256-bit base64 key. */
export function newKey(): string {
  return randomBytes(32).toString('base64');
}

export function newEtag(): string {
  return randomBytes(9).toString('base64');
}

/** The policies a new hub starts with. */
export const DEFAULT_POLICIES: ReadonlyArray<{ name: string; rights: Right[] }> = [
  { name: 'iothubowner', rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] },
  { name: 'service', rights: ['ServiceConnect'] },
  { name: 'device', rights: ['DeviceConnect'] },
  { name: 'registryRead', rights: ['RegistryRead'] },
  { name: 'registryReadWrite', rights: ['RegistryRead', 'RegistryWrite'] },
  // What the operator console's BFF needs: see devices (never their keys) and the log, open streams,
  // and issue one-use enrollment tokens for its admins' "Add device".
  { name: 'console', rights: ['RegistryView', 'ServiceConnect', 'Enroll'] },
];

/** Rights as stored (comma-separated) to a set. */
export function parseRights(text: string): Set<Right> {
  return new Set(text.split(',').filter(Boolean) as Right[]);
}
