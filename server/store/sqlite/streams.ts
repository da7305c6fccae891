/** The stream log in SQLite: one row per initiation, updated as the stream moves through its states. */
import type { ClosedBy, NewStream, StreamEnd, StreamQuery, StreamRecord, StreamResult, StreamState } from '../records.js';
import type { StreamRepository } from '../store.js';
import { Statements, type Db } from './database.js';

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
  node: string;
  gateway_node: string | null;
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
    node: r.node,
    gatewayNode: r.gateway_node,
  };
}

export class SqliteStreams implements StreamRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  async create(s: NewStream): Promise<void> {
    this.#sql
      .get('INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, created_at, node) VALUES (?,?,?,?,?,?,?,?)')
      .run(s.id, s.deviceId, s.streamName, s.initiator, s.operator, 'pending', s.createdAt, s.node);
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    const row = this.#sql.get<[string], Row>('SELECT * FROM streams WHERE id = ?').get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  async answer(id: string, result: StreamResult, reason: string | null, at: number, gatewayNode?: string): Promise<void> {
    if (result === 'accepted') {
      this.#sql
        .get("UPDATE streams SET state = 'accepted', result = ?, accepted_at = ?, gateway_node = ? WHERE id = ? AND state = 'pending'")
        .run(result, at, gatewayNode ?? null, id);
    } else {
      this.#sql
        .get("UPDATE streams SET state = 'ended', result = ?, reason = ?, ended_at = ?, closed_by = 'hub' WHERE id = ? AND state != 'ended'")
        .run(result, reason, at, id);
    }
  }

  async opened(id: string, at: number): Promise<void> {
    this.#sql.get("UPDATE streams SET state = 'open', connected_at = ? WHERE id = ? AND state = 'accepted'").run(at, id);
  }

  async handshakeTimedOut(id: string, at: number): Promise<boolean> {
    return (
      this.#sql
        .get(
          "UPDATE streams SET state = 'ended', result = 'handshakeTimeout', reason = 'both sides did not connect in time', ended_at = ?, closed_by = 'hub' WHERE id = ? AND state = 'accepted'",
        )
        .run(at, id).changes > 0
    );
  }

  async ended(id: string, end: StreamEnd, at: number): Promise<boolean> {
    return (
      this.#sql
        .get(
          `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = ?, close_code = ?, reason = ?, bytes_to_device = ?, bytes_from_device = ?
           WHERE id = ? AND state != 'ended'`,
        )
        .run(at, end.closedBy, end.closeCode, end.reason, end.bytesToDevice, end.bytesFromDevice, id).changes > 0
    );
  }

  async closeNodeStreams(node: string, result: 'hubRestart' | 'nodeLost', at: number): Promise<number> {
    const reason = result === 'hubRestart' ? 'hubRestart' : `nodeLost: node ${node} stopped`;
    return this.#sql
      .get(
        `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = 'hub', reason = ?,
           result = CASE WHEN result IS NULL THEN ? ELSE result END
         WHERE state != 'ended' AND (gateway_node = ? OR (gateway_node IS NULL AND node = ?))`,
      )
      .run(at, reason, result, node, node).changes;
  }

  async endStale(createdBefore: number, at: number): Promise<number> {
    return this.#sql
      .get(
        `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = 'hub', reason = 'both sides did not connect in time',
           result = CASE WHEN result IS NULL THEN 'handshakeTimeout' ELSE result END
         WHERE state IN ('pending', 'accepted') AND created_at < ?`,
      )
      .run(at, createdBefore).changes;
  }

  async liveNodes(): Promise<string[]> {
    return this.#sql
      .get<[], { n: string }>("SELECT DISTINCT COALESCE(gateway_node, node) AS n FROM streams WHERE state != 'ended'")
      .all()
      .map((r) => r.n);
  }

  async countLive(deviceId?: string): Promise<number> {
    if (deviceId === undefined) return this.#sql.get<[], { n: number }>("SELECT COUNT(*) AS n FROM streams WHERE state != 'ended'").get()?.n ?? 0;
    return this.#sql.get<[string], { n: number }>("SELECT COUNT(*) AS n FROM streams WHERE device_id = ? AND state != 'ended'").get(deviceId)?.n ?? 0;
  }

  async liveFor(deviceId: string): Promise<StreamRecord[]> {
    return this.#sql.get<[string], Row>("SELECT * FROM streams WHERE device_id = ? AND state != 'ended'").all(deviceId).map(fromRow);
  }

  async list(q: StreamQuery): Promise<StreamRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.deviceId !== undefined) { where.push('device_id = ?'); args.push(q.deviceId); }
    if (q.result !== undefined) { where.push('result = ?'); args.push(q.result); }
    if (q.initiator !== undefined) { where.push('initiator = ?'); args.push(q.initiator); }
    if (q.operator !== undefined) { where.push('operator = ?'); args.push(q.operator); }
    if (q.before !== undefined && q.beforeId !== undefined) {
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      args.push(q.before, q.before, q.beforeId);
    } else if (q.before !== undefined) {
      where.push('created_at < ?');
      args.push(q.before);
    }
    if (q.since !== undefined) { where.push('created_at >= ?'); args.push(q.since); }
    const sql = `SELECT * FROM streams ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.#sql.get<(string | number)[], Row>(sql).all(...args, q.limit).map(fromRow);
  }
}
