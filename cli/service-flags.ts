/**
 * The flags of every command that acts on the hub as a service (REST API, stream initiation):
 * their parse specs, their help lines and what they build, defined once for device, streams,
 * stream and proxy.
 */
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import { hubConnectionString, numberFlag, readCa } from './args.js';

export const SERVICE_FLAGS = {
  'hub-connection-string': { type: 'string' },
  ca: { type: 'string' },
  'hub-url': { type: 'string' },
} as const;

export const SERVICE_FLAGS_HELP = `  --hub-connection-string CS  service connection string (or IOTHUB_CONNECTION_STRING)
  --ca FILE                   CA that signed the hub's certificate (or DEVICESTREAMS_CA)
  --hub-url URL               hub base URL when it differs from https://HostName`;

/** The service client the flags (and their environment fallbacks) describe; CliError if they are missing. */
export function serviceClientFromFlags(values: { 'hub-connection-string'?: string | undefined; ca?: string | undefined; 'hub-url'?: string | undefined }): ServiceClient {
  return createServiceClient(hubConnectionString(values['hub-connection-string']), { ca: readCa(values.ca), hubUrl: values['hub-url'] });
}

/** Waits of a stream initiation, for the commands that open streams. */
export const STREAM_TIMEOUT_FLAGS = {
  'connect-timeout': { type: 'string' },
  'response-timeout': { type: 'string' },
} as const;

export const STREAM_TIMEOUT_FLAGS_HELP = `  --connect-timeout SECS      wait this long for an offline device (default 10)
  --response-timeout SECS     wait this long for the device's answer (default 10)`;

export function streamTimeouts(values: { 'connect-timeout'?: string | undefined; 'response-timeout'?: string | undefined }): { connectTimeoutSeconds: number; responseTimeoutSeconds: number } {
  return {
    connectTimeoutSeconds: numberFlag(values['connect-timeout'], '--connect-timeout', 10, 0, 60),
    responseTimeoutSeconds: numberFlag(values['response-timeout'], '--response-timeout', 10, 0, 60),
  };
}
