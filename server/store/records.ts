/**
 * The rows the store keeps, as the rest of the server sees them, engine-independent. Times are
 * epoch milliseconds unless the field says ISO (the registry keeps Azure's ISO strings).
 */
import type { Role } from '../../shared/console-api.js';
import type { TransferLabel } from '../../shared/transfer.js';
import type { StreamResult } from '../../shared/stream-results.js';

export type DeviceStatus = 'enabled' | 'disabled';

export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  etag: string;
  primaryKey: string;
  secondaryKey: string;
  status: DeviceStatus;
  statusReason: string | null;
  /** ISO time. */
  statusUpdatedTime: string;
  /** ISO time. */
  createdTime: string;
  /** ISO time, or null when never seen. */
  lastActivityTime: string | null;
  /** ISO time of the last connect or disconnect. */
  connectionStateUpdatedTime: string | null;
  /** The node whose control channel holds the device now, or null when it is connected nowhere. */
  connectedNode: string | null;
  /** Tags (key → value), set at enrollment. */
  tags: Record<string, string>;
  /** What its agent called itself in its last hello (`devicestreams-agent/0.1.0`), or null. */
  agent: string | null;
  /** The stream names its agent said it serves, sorted; null when it never said (an older agent, or never connected). */
  services: string[] | null;
}

export interface DeviceWrite {
  status: DeviceStatus;
  statusReason: string | null;
  primaryKey: string;
  secondaryKey: string;
  /** Replaces the tags when given; left as they are when not. */
  tags?: Record<string, string> | undefined;
}

/** A page of the registry, ordered by device id. */
export interface DeviceQuery {
  /** Only ids containing this text (case-insensitive). */
  search?: string | undefined;
  status?: DeviceStatus | undefined;
  /** true: connected somewhere; false: connected nowhere. */
  online?: boolean | undefined;
  /** Only ids after this one (keyset paging). */
  after?: string | undefined;
  limit: number;
}

export interface DeviceCounts {
  total: number;
  enabled: number;
  disabled: number;
  online: number;
}

/** Enroll: issue enrollment tokens (which register devices), without reading or writing the registry otherwise. */
export type Right = 'RegistryRead' | 'RegistryView' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect' | 'Enroll';

export interface PolicyRecord {
  name: string;
  primaryKey: string;
  secondaryKey: string;
  rights: ReadonlySet<Right>;
}

export type StreamState = 'pending' | 'accepted' | 'open' | 'ended';
export { STREAM_RESULTS, type StreamResult } from '../../shared/stream-results.js';
export type ClosedBy = 'device' | 'service' | 'hub' | 'gateway';

export interface StreamRecord {
  id: string;
  deviceId: string;
  streamName: string;
  /** Who initiated: the name of the policy whose key signed the request. */
  initiator: string;
  /** The console operator on whose behalf the initiator acted, if any. */
  operator: string | null;
  /** A file transfer: its direction and name, as the initiator said (shared/transfer.ts). */
  transfer: TransferLabel | null;
  state: StreamState;
  result: StreamResult | null;
  reason: string | null;
  createdAt: number;
  acceptedAt: number | null;
  connectedAt: number | null;
  endedAt: number | null;
  closedBy: ClosedBy | null;
  closeCode: number | null;
  bytesToDevice: number;
  bytesFromDevice: number;
  /** The node that took the initiation. */
  node: string;
  /** The node whose streaming endpoint carries the stream, once accepted. */
  gatewayNode: string | null;
  /** A v2 stream whose sides come back after losing their connections, within `resumeWindowMs`. */
  resumable: boolean;
  resumeWindowMs: number;
  /** While interrupted: since when. */
  interruptedAt: number | null;
  /** How often it was interrupted, and resumed. */
  interruptions: number;
  resumes: number;
}

/** One interruption of a resumable stream. */
export interface StreamInterruption {
  interruptedAt: number;
  /** When both sides were connected again; null while interrupted (or if it never resumed). */
  resumedAt: number | null;
}

/** A resumable stream the hub ended because it was not resumed in time. */
export interface TimedOutStream {
  id: string;
  /** The node whose streaming endpoint may still hold a leg of it, waiting. */
  gatewayNode: string | null;
  reason: string;
}

/** What a resumable stream keeps to check its sides when they come back (SHA-256 of each key). */
export interface StreamResumeKeys {
  windowMs: number;
  serviceKeyHash: string;
  deviceKeyHash: string;
}

export interface NewStream {
  id: string;
  deviceId: string;
  streamName: string;
  initiator: string;
  operator: string | null;
  transfer?: TransferLabel | null | undefined;
  createdAt: number;
  node: string;
  /** For a resumable (v2) stream. */
  resume?: StreamResumeKeys | undefined;
}

export interface StreamQuery {
  deviceId?: string | undefined;
  result?: StreamResult | undefined;
  initiator?: string | undefined;
  operator?: string | undefined;
  /** Only streams older than this (keyset paging): created before `before`, or at it with a smaller id. */
  before?: number | undefined;
  beforeId?: string | undefined;
  /** Only streams created at or after this. */
  since?: number | undefined;
  limit: number;
}

/** Bytes of a stream each way. */
export interface StreamBytes {
  bytesToDevice: number;
  bytesFromDevice: number;
}

export interface StreamEnd extends StreamBytes {
  closedBy: ClosedBy;
  closeCode: number | null;
  reason: string;
}

export interface Operator {
  /** Stable for the account's life; a later account with the same name gets another. */
  id: string;
  name: string;
  role: Role;
  createdAt: number;
}

export interface OperatorWithHash extends Operator {
  passwordHash: string;
}

export interface Session {
  tokenHash: string;
  operator: string;
  expiresAt: number;
}

export interface RecordingRow {
  streamId: string;
  deviceId: string;
  operator: string | null;
  /** The operator account that opened the session (its id, never reused). */
  operatorId: string | null;
  /** The node writing it (to finish it if that node dies mid-session). */
  node: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number;
  size: number;
  truncated: boolean;
  inputRecorded: boolean;
  cols: number;
  rows: number;
}

export type NewRecording = Omit<RecordingRow, 'endedAt' | 'durationMs' | 'size' | 'truncated'>;

/** An enrollment token as the store keeps it: never the token, only its secret's SHA-256. */
export interface EnrollmentTokenRecord {
  /** The token's public part, by which it is found. */
  id: string;
  /** SHA-256 of the token's secret, hex. */
  secretHash: string;
  /** A device id, or a pattern (`sensor-*`) when `pattern`. */
  target: string;
  pattern: boolean;
  tags: Record<string, string>;
  /** Services the agent maps (`shell`, `files`, `ssh=127.0.0.1:22`). */
  maps: string[];
  /** Who made it: the policy, and the console operator acting through it if any. */
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  /** When and by which device it was used; null while unused. */
  usedAt: number | null;
  usedBy: string | null;
}

export type NewEnrollmentToken = Omit<EnrollmentTokenRecord, 'usedAt' | 'usedBy'>;
