/**
 * The flags of every command that acts on the hub as a service (REST API, stream initiation):
 * their parse specs, their help lines and what they build, defined once for device, streams,
 * stream and proxy.
 */
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { DsError } from '../shared/errors.js';
import { DEVICE_ID_PATTERN, STREAM_NAME_PATTERN } from '../shared/limits.js';
import { CliError, hubConnectionString, numberFlag, readCa, urlFlag } from './args.js';

export const SERVICE_FLAGS = {
  'hub-connection-string': { type: 'string' },
  ca: { type: 'string' },
  'hub-url': { type: 'string' },
} as const;

export const SERVICE_FLAGS_HELP = `  --hub-connection-string CS  service connection string (or IOTHUB_CONNECTION_STRING)
  --ca FILE                   CA that signed the hub's certificate (or DEVICESTREAMS_CA)
  --hub-url URL               hub base URL when it differs from https://HostName: https://HOST[:PORT]
                              (http:// for a hub run with --insecure)`;

/**
 * The service client the flags (and their environment fallbacks) describe. Everything is checked
 * before the hub is asked anything: a missing or malformed connection string, a --hub-url that is
 * not an http(s) URL and a CA file without a certificate are usage errors (exit 2).
 */
export function serviceClientFromFlags(values: { 'hub-connection-string'?: string | undefined; ca?: string | undefined; 'hub-url'?: string | undefined }): ServiceClient {
  const hubUrl = urlFlag(values['hub-url'], '--hub-url', ['https:', 'http:'], 'https://HOST[:PORT], e.g. https://localhost:8443 (http:// for a hub run with --insecure)');
  const cs = hubConnectionString(values['hub-connection-string']);
  const ca = readCa(values.ca);
  try {
    return createServiceClient(cs, { ca, hubUrl });
  } catch (err) {
    if (err instanceof DsError) throw new CliError(`${err.message} (--hub-connection-string or IOTHUB_CONNECTION_STRING)`, 2);
    throw err;
  }
}

/** A device id as the hub accepts it; a usage error (exit 2) before the hub is asked, otherwise. */
export function deviceIdArg(id: string): string {
  if (id === '') throw new CliError('the device id is empty; give one such as pump-17', 2);
  if (!DEVICE_ID_PATTERN.test(id)) throw new CliError(`"${id}" is not a device id: 1-128 letters, digits and - . % _ * ? ! ( ) , : = @ $ '`, 2);
  return id;
}

/**
 * A stream name as the hub accepts it (what an agent's --map may name); a usage error (exit 2)
 * otherwise. `stream`, `proxy` and `cp` check it before anything starts.
 */
export function streamNameFlag(name: string, flag: string): string {
  if (!STREAM_NAME_PATTERN.test(name)) throw new CliError(`${flag} "${name}" is not a stream name: 1-64 letters, digits, "-", "." and "_"`, 2);
  return name;
}

/** Waits of a stream initiation, for the commands that open streams. */
export const STREAM_TIMEOUT_FLAGS = {
  'connect-timeout': { type: 'string' },
  'response-timeout': { type: 'string' },
  'resume-window': { type: 'string' },
  'no-resume': { type: 'boolean' },
} as const;

/** The help of the timeout flags; each command adds its own line for --no-resume, or none (cp refuses it). */
export const STREAM_TIMEOUT_FLAGS_HELP = `  --connect-timeout SECS      wait this long for an offline device (default 10)
  --response-timeout SECS     wait this long for the device's answer (default 10)
  --resume-window SECS        a stream whose connection is lost (hub restart, network cut) comes
                              back within this long without losing a byte (default 120; 1-600)`;

export const NO_RESUME_HELP = `  --no-resume                 a plain (v1) stream: no half-close, a lost connection ends it`;

/**
 * The stream options the flags ask for; `say` is told (one line each) when a resumable stream is
 * interrupted and when it is back.
 */
export function streamTimeouts(
  values: { 'connect-timeout'?: string | undefined; 'response-timeout'?: string | undefined; 'resume-window'?: string | undefined; 'no-resume'?: boolean | undefined },
  say?: (line: string) => void,
): {
  connectTimeoutSeconds: number;
  responseTimeoutSeconds: number;
  resumable: false | { windowSeconds: number; onEvent?: (event: 'interrupted' | 'resumed', detail: string) => void };
} {
  if (values['no-resume'] === true && values['resume-window'] !== undefined) throw new CliError('--no-resume and --resume-window contradict each other', 2);
  return {
    connectTimeoutSeconds: numberFlag(values['connect-timeout'], '--connect-timeout', 10, 0, 60),
    responseTimeoutSeconds: numberFlag(values['response-timeout'], '--response-timeout', 10, 0, 60),
    resumable: values['no-resume'] === true ? false : resumeOptions(numberFlag(values['resume-window'], '--resume-window', 120, 1, 600), say),
  };
}

function resumeOptions(windowSeconds: number, say: ((line: string) => void) | undefined): { windowSeconds: number; onEvent?: (event: 'interrupted' | 'resumed', detail: string) => void } {
  if (say === undefined) return { windowSeconds };
  return {
    windowSeconds,
    onEvent: (event, detail) => say(event === 'interrupted' ? `stream interrupted (${detail}); resuming for up to ${windowSeconds} s` : `stream ${detail}`),
  };
}
