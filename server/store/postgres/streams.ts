/** The stream log in PostgreSQL. */
import type { ClosedBy, NewStream, StreamEnd, StreamQuery, StreamRecord, StreamResult, StreamState } from '../records.js';
import type { StreamRepository } from '../store.js';
import type { Database } from './pool.js';

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

export class PgStreams implements StreamRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(s: NewStream): Promise<void> {
    await this.#db.query(
      "INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, created_at, node) VALUES ($1,$2,$3,$4,$5,'pending',$6,$7)",
      [s.id, s.deviceId, s.streamName, s.initiator, s.operator, s.createdAt, s.node],
    );
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    const [row] = await this.#db.rows<Row>('SELECT * FROM streams WHERE id = $1', [id]);
    return row === undefined ? undefined : fromRow(row);
  }

  async answer(id: string, result: StreamResult, reason: string | null, at: number, gatewayNode?: string): Promise<void> {
    if (result === 'accepted') {
      await this.#db.query("UPDATE streams SET state = 'accepted', result = $1, accepted_at = $2, gateway_node = $3 WHERE id = $4 AND state = 'pending'", [
        result, at, gatewayNode ?? null, id,
      ]);
    } else {
      await this.#db.query("UPDATE streams SET state = 'ended', result = $1, reason = $2, ended_at = $3, closed_by = 'hub' WHERE id = $4 AND state <> 'ended'", [
        result, reason, at, id,
      ]);
    }
  }

  async opened(id: string, at: number): Promise<void> {
    await this.#db.query("UPDATE streams SET state = 'open', connected_at = $1 WHERE id = $2 AND state = 'accepted'", [at, id]);
  }

  async handshakeTimedOut(id: string, at: number): Promise<boolean> {
    const r = await this.#db.query(
      "UPDATE streams SET state = 'ended', result = 'handshakeTimeout', reason = 'both sides did not connect in time', ended_at = $1, closed_by = 'hub' WHERE id = $2 AND state = 'accepted'",
      [at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async ended(id: string, end: StreamEnd, at: number): Promise<boolean> {
    const r = await this.#db.query(
      `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = $2, close_code = $3, reason = $4, bytes_to_device = $5, bytes_from_device = $6
       WHERE id = $7 AND state <> 'ended'`,
      [at, end.closedBy, end.closeCode, end.reason, end.bytesToDevice, end.bytesFromDevice, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async closeNodeStreams(node: string, result: 'hubRestart' | 'nodeLost', at: number): Promise<number> {
    const reason = result === 'hubRestart' ? 'hubRestart' : `nodeLost: node ${node} stopped`;
    const r = await this.#db.query(
      `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = 'hub', reason = $2, result = COALESCE(result, $3)
       WHERE state <> 'ended' AND (gateway_node = $4 OR (gateway_node IS NULL AND node = $4))`,
      [at, reason, result, node],
    );
    return r.rowCount ?? 0;
  }

  async endStale(createdBefore: number, at: number): Promise<number> {
    const r = await this.#db.query(
      `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = 'hub', reason = 'both sides did not connect in time',
         result = COALESCE(result, 'handshakeTimeout')
       WHERE state IN ('pending', 'accepted') AND created_at < $2`,
      [at, createdBefore],
    );
    return r.rowCount ?? 0;
  }

  async liveNodes(): Promise<string[]> {
    return (await this.#db.rows<{ n: string }>("SELECT DISTINCT COALESCE(gateway_node, node) AS n FROM streams WHERE state <> 'ended'")).map((r) => r.n);
  }

  async countLive(deviceId?: string): Promise<number> {
    const [r] = deviceId === undefined
      ? await this.#db.rows<{ n: number }>("SELECT COUNT(*)::int AS n FROM streams WHERE state <> 'ended'")
      : await this.#db.rows<{ n: number }>("SELECT COUNT(*)::int AS n FROM streams WHERE device_id = $1 AND state <> 'ended'", [deviceId]);
    return r?.n ?? 0;
  }

  async liveFor(deviceId: string): Promise<StreamRecord[]> {
    return (await this.#db.rows<Row>("SELECT * FROM streams WHERE device_id = $1 AND state <> 'ended'", [deviceId])).map(fromRow);
  }

  async list(q: StreamQuery): Promise<StreamRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.deviceId !== undefined) where.push(`device_id = ${arg(q.deviceId)}`);
    if (q.result !== undefined) where.push(`result = ${arg(q.result)}`);
    if (q.initiator !== undefined) where.push(`initiator = ${arg(q.initiator)}`);
    if (q.operator !== undefined) where.push(`operator = ${arg(q.operator)}`);
    if (q.before !== undefined && q.beforeId !== undefined) where.push(`(created_at, id) < (${arg(q.before)}, ${arg(q.beforeId)})`);
    else if (q.before !== undefined) where.push(`created_at < ${arg(q.before)}`);
    if (q.since !== undefined) where.push(`created_at >= ${arg(q.since)}`);
    const sql = `SELECT * FROM streams ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${arg(q.limit)}`;
    return (await this.#db.rows<Row>(sql, args)).map(fromRow);
  }
}
