/** What the console API may tell the browser: whitelisted fields only, never a key or token. */
import type { ConsoleDevice, ConsoleStream } from '../../shared/console-api.js';
import type { DeviceDescription, StreamLogEntry } from '../sdk/service-client.js';

export function presentDevice(d: DeviceDescription): ConsoleDevice {
  return {
    deviceId: d.deviceId,
    status: d.status,
    online: d.connectionState === 'Connected',
    lastActivityTime: d.lastActivityTime.startsWith('0001') ? null : d.lastActivityTime,
    // The connection's state last changed when it connected, while it is connected.
    connectedSince: d.connectionState === 'Connected' && !d.connectionStateUpdatedTime.startsWith('0001') ? d.connectionStateUpdatedTime : null,
    agent: typeof d.agent === 'string' ? d.agent.slice(0, 200) : null,
    services: Array.isArray(d.services) ? d.services.filter((x): x is string => typeof x === 'string').slice(0, 64) : null,
  };
}

export function presentStream(s: StreamLogEntry, recording: ConsoleStream['recording']): ConsoleStream {
  return {
    streamId: s.streamId,
    deviceId: s.deviceId,
    streamName: s.streamName,
    operator: s.operator,
    initiator: s.initiator,
    state: s.state as ConsoleStream['state'],
    result: s.result,
    reason: s.reason,
    createdAt: s.createdAt,
    endedAt: s.endedAt,
    durationMs: s.durationMs,
    closedBy: s.closedBy,
    closeCode: s.closeCode,
    bytesToDevice: s.bytesToDevice,
    bytesFromDevice: s.bytesFromDevice,
    transfer: s.transfer === null || s.transfer === undefined ? null : { direction: s.transfer.direction, name: s.transfer.name.slice(0, 256), size: s.transfer.size },
    recording,
  };
}
