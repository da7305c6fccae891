/** The stream log: one row per initiation, updated as the stream moves through its states. */
import { Statements, type Db } from './database.js';

export type StreamState = 'pending' | 'accepted' | 'open' | 'ended';
export type StreamResult =
  | 'accepted'
  | 'rejected'
  | 'deviceNotFound'
  | 'deviceOffline'
  | 'responseTimeout'
  | 'handshakeTimeout'
  | 'throttled'
  | 'hubRestart';
export type ClosedBy = 'device' | 'service' | 'hub' | 'gateway';

export const STREAM_RESULTS: readonly StreamResult[] = [
  'accepted', 'rejected', 'deviceNotFound', 'deviceOffline', 'responseTimeout', 'handshakeTimeout', 'throttled', 'hubRestart',
];

export interface StreamRecord {
  id: string;
  deviceId: string;
  streamName: string;
  /** Who initiated: the name of the policy whose key signed the request. */
  initiator: string;
  /** The console operator on whose behalf the initiator acted, if any. */
  operator: string | null;
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
}

interface Row {
  id: string;
  device_id: string;
  stream_name: string;
  initiator: string;
  operator: string | null;
  state: StreamState;
  result: StreamResult | null;
  reason: string | null;
  created_at: number;
  accepted_at: number | null;
  connected_at: number | null;
  ended_at: number | null;
  closed_by: ClosedBy | null;
  close_code: number | null;
  bytes_to_device: number;
  bytes_from_device: number;
}

function fromRow(r: Row): StreamRecord {
  return {
    id: r.id,
    deviceId: r.device_id,
    streamName: r.stream_name,
    initiator: r.initiator,
    operator: r.operator,
    state: r.state,
    result: r.result,
    reason: r.reason,
    createdAt: r.created_at,
    acceptedAt: r.accepted_at,
    connectedAt: r.connected_at,
    endedAt: r.ended_at,
    closedBy: r.closed_by,
    closeCode: r.close_code,
    bytesToDevice: r.bytes_to_device,
    bytesFromDevice: r.bytes_from_device,
  };
}

export interface StreamQuery {
  deviceId?: string | undefined;
  result?: StreamResult | undefined;
  initiator?: string | undefined;
  operator?: string | undefined;
  /** Only streams created before this epoch-ms (for paging). */
  before?: number | undefined;
  /** Only streams created at or after this epoch-ms. */
  since?: number | undefined;
  limit: number;
}

export interface StreamEnd {
  closedBy: ClosedBy;
  closeCode: number | null;
  reason: string;
  bytesToDevice: number;
  bytesFromDevice: number;
}

export class StreamRepository {
  readonly #sql: Statements;
  readonly #get;

  constructor(db: Db) {
    this.#sql = new Statements(db);
    this.#get = db.prepare<[string], Row>('SELECT * FROM streams WHERE id = ?');
  }

  create(s: { id: string; deviceId: string; streamName: string; initiator: string; operator: string | null; createdAt: number }): void {
    this.#sql
      .get('INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, created_at) VALUES (?,?,?,?,?,?,?)')
      .run(s.id, s.deviceId, s.streamName, s.initiator, s.operator, 'pending', s.createdAt);
  }

  get(id: string): StreamRecord | undefined {
    const row = this.#get.get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  /** Records the answer to an initiation; a stream that is not accepted ends here. */
  answer(id: string, result: StreamResult, reason: string | null, at: number): void {
    if (result === 'accepted') {
      this.#sql.get("UPDATE streams SET state = 'accepted', result = ?, accepted_at = ? WHERE id = ?").run(result, at, id);
    } else {
      this.#sql
        .get("UPDATE streams SET state = 'ended', result = ?, reason = ?, ended_at = ?, closed_by = 'hub' WHERE id = ? AND state != 'ended'")
        .run(result, reason, at, id);
    }
  }

  /** Both sides are connected. */
  opened(id: string, at: number): void {
    this.#sql.get("UPDATE streams SET state = 'open', connected_at = ? WHERE id = ? AND state = 'accepted'").run(at, id);
  }

  /** The accepted stream's sides never both connected. */
  handshakeTimedOut(id: string, at: number): boolean {
    return (
      this.#sql
        .get(
          "UPDATE streams SET state = 'ended', result = 'handshakeTimeout', reason = 'both sides did not connect in time', ended_at = ?, closed_by = 'hub' WHERE id = ? AND state = 'accepted'",
        )
        .run(at, id).changes > 0
    );
  }

  /** The stream ended; the first report wins. */
  ended(id: string, end: StreamEnd, at: number): boolean {
    return (
      this.#sql
        .get(
          `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = ?, close_code = ?, reason = ?, bytes_to_device = ?, bytes_from_device = ?
           WHERE id = ? AND state != 'ended'`,
        )
        .run(at, end.closedBy, end.closeCode, end.reason, end.bytesToDevice, end.bytesFromDevice, id).changes > 0
    );
  }

  /** At start-up: whatever was live when the hub stopped is over now. Returns how many. */
  closeOrphans(at: number): number {
    return this.#sql
      .get(
        `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = 'hub', reason = 'hubRestart',
           result = CASE WHEN result IS NULL THEN 'hubRestart' ELSE result END WHERE state != 'ended'`,
      )
      .run(at).changes;
  }

  list(q: StreamQuery): StreamRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.deviceId !== undefined) { where.push('device_id = ?'); args.push(q.deviceId); }
    if (q.result !== undefined) { where.push('result = ?'); args.push(q.result); }
    if (q.initiator !== undefined) { where.push('initiator = ?'); args.push(q.initiator); }
    if (q.operator !== undefined) { where.push('operator = ?'); args.push(q.operator); }
    if (q.before !== undefined) { where.push('created_at < ?'); args.push(q.before); }
    if (q.since !== undefined) { where.push('created_at >= ?'); args.push(q.since); }
    const sql = `SELECT * FROM streams ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#sql.get<(string | number)[], Row>(sql).all(...args, q.limit).map(fromRow);
  }
}
