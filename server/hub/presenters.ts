/**
 * What a REST answer may carry, field by field. Registry answers carry device keys (the Azure
 * registry API does) only for callers whose policy has RegistryRead or RegistryWrite; RegistryView
 * gets the same shape with null keys. Nothing else carries a key.
 */
import type { DeviceRecord, StreamInterruption, StreamRecord } from '../store/store.js';

const NEVER = '0001-01-01T00:00:00Z';

/** A device in the shape of the azure-iothub Registry. */
export function presentDevice(d: DeviceRecord, withKeys = true): Record<string, unknown> {
  const online = d.connectedNode !== null;
  return {
    deviceId: d.deviceId,
    generationId: d.generationId,
    etag: d.etag,
    connectionState: online ? 'Connected' : 'Disconnected',
    status: d.status,
    statusReason: d.statusReason,
    connectionStateUpdatedTime: d.connectionStateUpdatedTime ?? NEVER,
    statusUpdatedTime: d.statusUpdatedTime,
    lastActivityTime: d.lastActivityTime ?? NEVER,
    cloudToDeviceMessageCount: 0,
    authentication: {
      type: 'sas',
      symmetricKey: withKeys ? { primaryKey: d.primaryKey, secondaryKey: d.secondaryKey } : { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    },
    capabilities: { iotEdge: false },
    // Ours, beside Azure's fields: set at enrollment, and what the agent said in its hello.
    tags: d.tags,
    agent: d.agent,
    services: d.services,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** One stream-log record. */
export function presentStream(s: StreamRecord): Record<string, unknown> {
  return {
    streamId: s.id,
    deviceId: s.deviceId,
    streamName: s.streamName,
    initiator: s.initiator,
    operator: s.operator,
    // A transfer's size is what went its way: to the device for an upload, from it for a download.
    transfer: s.transfer === null ? null : { ...s.transfer, size: s.transfer.direction === 'upload' ? s.bytesToDevice : s.bytesFromDevice },
    state: s.state,
    result: s.result,
    reason: s.reason,
    createdAt: iso(s.createdAt),
    acceptedAt: iso(s.acceptedAt),
    connectedAt: iso(s.connectedAt),
    endedAt: iso(s.endedAt),
    durationMs: s.endedAt === null ? null : s.endedAt - s.createdAt,
    closedBy: s.closedBy,
    closeCode: s.closeCode,
    bytesToDevice: s.bytesToDevice,
    bytesFromDevice: s.bytesFromDevice,
    resumable: s.resumable,
    interruptions: s.interruptions,
    resumes: s.resumes,
    interruptedAt: iso(s.interruptedAt),
  };
}

/** One interruption of a resumable stream (GET /streams/{id}). */
export function presentInterruption(i: StreamInterruption): Record<string, unknown> {
  return { interruptedAt: iso(i.interruptedAt), resumedAt: iso(i.resumedAt) };
}
