/**
 * What the operator reads when a terminal cannot be opened: the console close code, one whole
 * sentence (the page shows it as it is, so nothing here is prefixed twice) and, when something
 * would fix the cause, a hint saying what.
 *
 * A device the registry shows offline is given OFFLINE_GRACE_SECONDS to connect instead of the
 * whole connect timeout, so the operator hears "offline" at once rather than after a long wait.
 */
import { ConsoleCloseCode, type ConsoleCloseCodeValue } from '../../shared/console-protocol.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { StreamClosedError } from '../../shared/ws-duplex.js';
import { StreamRejectedError, type DeviceDescription } from '../sdk/service-client.js';

/** Why a terminal could not be opened, for the status line and the ended view. */
export interface TerminalRefusalText {
  code: ConsoleCloseCodeValue;
  message: string;
  hint?: string | undefined;
}

/** The shell server's socket in the README's setup; the hint shows the mapping with it. */
const SHELL_SOCKET = 'unix:/run/devicestreams/shell.sock';

function disabled(deviceId: string): TerminalRefusalText {
  return {
    code: ConsoleCloseCode.Disabled,
    message: `Device ${deviceId} is disabled, so no stream reaches it.`,
    hint: `An admin can enable it on the server: devicestreams device enable ${deviceId}`,
  };
}

function offline(deviceId: string, why: string): TerminalRefusalText {
  return {
    code: ConsoleCloseCode.Offline,
    message: `Device ${deviceId} is offline: ${why}.`,
    hint: 'Start its agent (devicestreams agent) or check its network, then Reconnect once the Devices page shows it online.',
  };
}

/**
 * How long a device the registry shows offline may take to connect. Not zero: an agent says it is
 * connected a moment before the hub records it, and a terminal opened in that moment must work.
 */
export const OFFLINE_GRACE_SECONDS = 0.5;

/** The connect timeout for a new terminal on `device`: short when the registry shows it offline. */
export function connectTimeoutFor(device: Pick<DeviceDescription, 'connectionState'> | undefined, connectTimeoutSeconds: number): number {
  return device !== undefined && device.connectionState !== 'Connected' ? Math.min(OFFLINE_GRACE_SECONDS, connectTimeoutSeconds) : connectTimeoutSeconds;
}

/** The device's own reason for saying no, and what to change on the device when it says why. */
function rejected(deviceId: string, streamName: string, reason: string): TerminalRefusalText {
  const r = reason.trim() === '' ? 'no reason given' : reason.trim();
  // The agent's words for a stream name it has no mapping for (device/agent.ts).
  const noMapping = r.includes(`no mapping for stream "${streamName}"`);
  return {
    code: ConsoleCloseCode.Rejected,
    message: `Device ${deviceId} rejected the terminal: ${r}${/[.!?]$/.test(r) ? '' : '.'}`,
    hint: noMapping
      ? `Run a shell server on the device (devicestreams shell-server) and map it in its agent: devicestreams agent … --map ${streamName}=${SHELL_SOCKET}`
      : undefined,
  };
}

/**
 * The refusal for a failed stream request (`initiateStream` threw `err`). `registryOffline`: the
 * registry showed the device offline before the request (it was given only the grace period).
 */
export function describeStreamFailure(err: unknown, deviceId: string, streamName: string, connectTimeoutSeconds: number, registryOffline = false): TerminalRefusalText {
  if (err instanceof StreamRejectedError) return rejected(deviceId, streamName, err.reason);
  if (err instanceof DsError) {
    switch (err.code) {
      case ErrorCode.DeviceNotOnline:
        return offline(deviceId, registryOffline ? 'its agent is not connected to the hub' : `it did not connect within ${connectTimeoutSeconds} s`);
      case ErrorCode.DeviceDisabled:
        return disabled(deviceId);
      case ErrorCode.DeviceResponseTimeout:
        return { code: ConsoleCloseCode.Timeout, message: `Device ${deviceId} did not answer in time.`, hint: 'Its agent may be overloaded or its network slow; Reconnect to try again.' };
      case ErrorCode.DeviceNotFound:
        return { code: ConsoleCloseCode.NotFound, message: `There is no device ${deviceId}.`, hint: 'Check the name on the Devices page.' };
      case ErrorCode.ThrottledDevice:
      case ErrorCode.ThrottledHub:
      case ErrorCode.ThrottledRate:
        return { code: ConsoleCloseCode.Busy, message: `The hub is busy: ${err.message}`, hint: 'Close terminals you no longer need, or Reconnect in a moment.' };
      default:
        return { code: ConsoleCloseCode.Internal, message: `The hub refused the stream: ${err.message}` };
    }
  }
  if (err instanceof StreamClosedError) return { code: ConsoleCloseCode.Timeout, message: `The stream closed before it connected: ${err.message}` };
  return { code: ConsoleCloseCode.Internal, message: `Could not open the terminal: ${err instanceof Error ? err.message : String(err)}` };
}
