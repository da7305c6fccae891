/**
 * The agent's configuration file (`agent --config FILE`), so that a device's key lives in a file
 * only the agent's account can read instead of on a command line (where `ps` shows it to every
 * local user) or in an environment that child processes inherit. The install script writes it;
 * a person may too:
 *
 *   { "connectionString": "HostName=…;DeviceId=…;SharedAccessKey=…",   (or hub + deviceId + key)
 *     "ca": "/opt/devicestreams/etc/ca.pem",                            (a path, or the PEM itself)
 *     "maps": ["shell=unix:/opt/devicestreams/run/shell.sock", "ssh=127.0.0.1:22"],
 *     "hubUrl": "wss://…", "proxy": "http://…" }                       (both optional)
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { buildConnectionString, parseDeviceConnectionString } from '../shared/connection-string.js';
import { DsError, ErrorCode } from '../shared/errors.js';
import { parseMapping, type Target } from './agent.js';

/** Largest configuration file read (a CA bundle inline fits many times over). */
const MAX_CONFIG_BYTES = 256 * 1024;

const configSchema = z.strictObject({
  connectionString: z.string().min(1).optional(),
  hub: z.string().min(1).optional(),
  deviceId: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  maps: z.array(z.string()).max(256).default([]),
  hubUrl: z.string().min(1).optional(),
  proxy: z.string().min(1).optional(),
});

/** What the agent needs from its configuration file. */
export interface AgentConfig {
  connectionString: string;
  /** PEM of the CA to trust, when the file names one. */
  ca: string | undefined;
  targets: Map<string, Target>;
  hubUrl: string | undefined;
  proxy: string | undefined;
}

function invalid(file: string, why: string): DsError {
  return new DsError(ErrorCode.ArgumentInvalid, `config ${file}: ${why}`);
}

/**
 * Refuses a file that other accounts could read (or write): it holds the device's key, and a key
 * that others may have read is no longer the device's alone — as ssh refuses such a private key.
 */
export function checkPrivate(file: string, mode: number): void {
  if ((mode & 0o077) !== 0) {
    throw invalid(file, `mode ${(mode & 0o777).toString(8)} lets other accounts read the device's key; run: chmod 600 ${file}`);
  }
}

/** `hub` as a host name: `https://hub.example.com:8443` and `hub.example.com:8443` both give `hub.example.com:8443`. */
function hostNameOf(hub: string): string {
  return /^[a-z]+:\/\//i.test(hub) ? new URL(hub).host : hub.replace(/\/+$/, '');
}

/** Reads, checks and validates the configuration file; throws a DsError naming the problem. */
export function loadAgentConfig(path: string): AgentConfig {
  const file = resolve(path);
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw invalid(file, 'is not a file');
    if (st.size > MAX_CONFIG_BYTES) throw invalid(file, `larger than ${MAX_CONFIG_BYTES} bytes`);
    checkPrivate(file, st.mode);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DsError) throw err;
    throw invalid(file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid(file, 'is not valid JSON');
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'the file' : `"${issue.path.join('.')}"`;
    throw invalid(file, `${field}: ${issue?.message ?? 'invalid'}`);
  }
  const c = parsed.data;
  let connectionString: string;
  if (c.connectionString !== undefined) {
    if (c.hub !== undefined || c.deviceId !== undefined || c.key !== undefined) throw invalid(file, 'give either "connectionString" or "hub", "deviceId" and "key", not both');
    connectionString = c.connectionString;
  } else {
    if (c.hub === undefined || c.deviceId === undefined || c.key === undefined) throw invalid(file, 'needs "connectionString", or all of "hub", "deviceId" and "key"');
    connectionString = buildConnectionString({ kind: 'device', hostName: hostNameOf(c.hub), deviceId: c.deviceId, sharedAccessKey: c.key });
  }
  try {
    parseDeviceConnectionString(connectionString);
  } catch (err) {
    throw invalid(file, `the connection string is not a device's: ${err instanceof Error ? err.message : String(err)}`);
  }
  const targets = new Map<string, Target>();
  for (const m of c.maps) {
    const [name, target] = parseMapping(m);
    if (targets.has(name)) throw invalid(file, `stream name "${name}" is mapped twice`);
    targets.set(name, target);
  }
  return { connectionString, ca: readCaSetting(file, c.ca), targets, hubUrl: c.hubUrl, proxy: c.proxy };
}

/** The `ca` setting: PEM text as it is, otherwise a path (relative to the configuration file). */
function readCaSetting(file: string, ca: string | undefined): string | undefined {
  if (ca === undefined) return undefined;
  if (ca.includes('-----BEGIN CERTIFICATE-----')) return ca;
  const path = resolve(dirname(file), ca);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid(file, `cannot read the CA file ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
