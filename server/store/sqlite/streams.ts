/** The stream log in SQLite: one row per initiation, updated as the stream moves through its states. */
import type { ClosedBy, NewStream, StreamEnd, StreamInterruption, StreamQuery, StreamBytes, StreamRecord, StreamResult, StreamState, TimedOutStream } from '../records.js';
import { parseTransfer, transferColumn } from '../json-columns.js';
import { growth } from '../stream-bytes.js';
import type { StreamRepository } from '../store.js';
import { Statements, type Db } from './database.js';

interface Row {
  id: string;
  device_id: string;
  stream_name: string;
  initiator: string;
  operator: string | null;
  transfer: string | null;
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
  resumable: number;
  resume_window_ms: number;
  interrupted_at: number | null;
  interruptions: number;
  resumes: number;
}

function fromRow(r: Row): StreamRecord {
  return {
    id: r.id,
    deviceId: r.device_id,
    streamName: r.stream_name,
    initiator: r.initiator,
    operator: r.operator,
    transfer: parseTransfer(r.transfer),
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
    resumable: r.resumable === 1,
    resumeWindowMs: r.resume_window_ms,
    interruptedAt: r.interrupted_at,
    interruptions: r.interruptions,
    resumes: r.resumes,
  };
}

export class SqliteStreams implements StreamRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  async create(s: NewStream): Promise<void> {
    this.#sql
      .get(`INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, created_at, node, resumable, resume_window_ms, service_resume_hash, device_resume_hash, transfer)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
      .run(s.id, s.deviceId, s.streamName, s.initiator, s.operator, 'pending', s.createdAt, s.node,
        s.resume === undefined ? 0 : 1, s.resume?.windowMs ?? 0, s.resume?.serviceKeyHash ?? null, s.resume?.deviceKeyHash ?? null, transferColumn(s.transfer));
  }

  async resumeKeyHash(id: string, side: 'service' | 'device'): Promise<string | undefined> {
    const r = this.#sql.get<[string], { s: string | null; d: string | null; resumable: number }>('SELECT service_resume_hash AS s, device_resume_hash AS d, resumable FROM streams WHERE id = ?').get(id);
    if (r === undefined || r.resumable !== 1) return undefined;
    return (side === 'service' ? r.s : r.d) ?? undefined;
  }

  async interrupted(id: string, at: number, totals: StreamBytes): Promise<StreamBytes | undefined> {
    return this.#db.transaction(() => {
      const r = this.#sql
        .get<[string], { state: string; interrupted_at: number | null; resumable: number; bytes_to_device: number; bytes_from_device: number }>('SELECT state, interrupted_at, resumable, bytes_to_device, bytes_from_device FROM streams WHERE id = ?')
        .get(id);
      if (r === undefined || r.state === 'ended' || r.resumable !== 1) return undefined;
      const grown = growth(r, totals);
      this.#sql.get('UPDATE streams SET bytes_to_device = bytes_to_device + ?, bytes_from_device = bytes_from_device + ? WHERE id = ?').run(grown.bytesToDevice, grown.bytesFromDevice, id);
      const lastResume = this.#sql.get<[string], { at: number | null }>('SELECT MAX(resumed_at) AS at FROM stream_interruptions WHERE stream_id = ?').get(id)?.at ?? null;
      if (r.interrupted_at === null && (lastResume === null || lastResume < at)) {
        this.#sql.get('UPDATE streams SET interrupted_at = ?, interruptions = interruptions + 1 WHERE id = ?').run(at, id);
        this.#sql.get('INSERT INTO stream_interruptions (stream_id, interrupted_at) VALUES (?, ?)').run(id, at);
      }
      return grown;
    })();
  }

  async resumed(id: string, at: number): Promise<boolean> {
    return this.#db.transaction(() => {
      const r = this.#sql.get<[string], { interrupted_at: number | null; state: string }>('SELECT interrupted_at, state FROM streams WHERE id = ?').get(id);
      if (r === undefined || r.state === 'ended') return false;
      if (r.interrupted_at === null) return true;
      this.#sql.get("UPDATE streams SET interrupted_at = NULL, resumes = resumes + 1, state = CASE WHEN state = 'accepted' THEN 'open' ELSE state END WHERE id = ?").run(id);
      this.#sql.get('UPDATE stream_interruptions SET resumed_at = ? WHERE stream_id = ? AND interrupted_at = ? AND resumed_at IS NULL').run(at, id, r.interrupted_at);
      return true;
    })();
  }

  async endResumeTimeouts(now: number): Promise<TimedOutStream[]> {
    return this.#sql
      .get<[number, number], { id: string; gateway_node: string | null; reason: string }>(
        `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = 'hub', close_code = 4010,
           reason = 'resumeTimeout: not resumed within ' || (resume_window_ms / 1000) || ' s'
         WHERE interrupted_at IS NOT NULL AND state != 'ended' AND interrupted_at + resume_window_ms < ?
         RETURNING id, gateway_node, reason`,
      )
      .all(now, now)
      .map((r) => ({ id: r.id, gatewayNode: r.gateway_node, reason: r.reason }));
  }

  async interruptionsOf(id: string, limit: number): Promise<StreamInterruption[]> {
    return this.#sql
      .get<[string, number], { interrupted_at: number; resumed_at: number | null }>('SELECT interrupted_at, resumed_at FROM stream_interruptions WHERE stream_id = ? ORDER BY interrupted_at LIMIT ?')
      .all(id, limit)
      .map((r) => ({ interruptedAt: r.interrupted_at, resumedAt: r.resumed_at }));
  }

  async moveGateway(id: string, from: string | null, to: string): Promise<boolean> {
    return this.#sql.get('UPDATE streams SET gateway_node = ? WHERE id = ? AND gateway_node IS ?').run(to, id, from).changes > 0;
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    const row = this.#sql.get<[string], Row>('SELECT * FROM streams WHERE id = ?').get(id);
    return row === undefined ? undefined : fromRow(row);
  }

  async answer(id: string, result: StreamResult, reason: string | null, at: number, gatewayNode?: string, deviceAnsweredAt?: number): Promise<void> {
    if (deviceAnsweredAt !== undefined) {
      this.#sql
        .get('UPDATE devices SET last_activity_time = ? WHERE device_id = (SELECT device_id FROM streams WHERE id = ?)')
        .run(new Date(deviceAnsweredAt).toISOString(), id);
    }
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

  async opened(id: string, at: number, v2 = true): Promise<void> {
    this.#sql
      .get("UPDATE streams SET state = 'open', connected_at = ?, resumable = CASE WHEN ? THEN resumable ELSE 0 END WHERE id = ? AND state = 'accepted'")
      .run(at, v2 ? 1 : 0, id);
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

  async ended(id: string, end: StreamEnd, at: number): Promise<StreamBytes | undefined> {
    return this.#db.transaction(() => {
      const r = this.#sql.get<[string], { state: string; bytes_to_device: number; bytes_from_device: number }>('SELECT state, bytes_to_device, bytes_from_device FROM streams WHERE id = ?').get(id);
      if (r === undefined || r.state === 'ended') return undefined;
      const grown = growth(r, end);
      this.#sql
        .get(
          `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = ?, close_code = ?, reason = ?,
             bytes_to_device = bytes_to_device + ?, bytes_from_device = bytes_from_device + ?, interrupted_at = NULL
           WHERE id = ?`,
        )
        .run(at, end.closedBy, end.closeCode, end.reason, grown.bytesToDevice, grown.bytesFromDevice, id);
      return grown;
    })();
  }

  async closeNodeStreams(node: string, result: 'hubRestart' | 'nodeLost', at: number): Promise<number> {
    const reason = result === 'hubRestart' ? 'hubRestart' : `nodeLost: node ${node} stopped`;
    return this.#db.transaction(() => {
      // Open resumable streams are not over: their sides come back through another leg.
      const resumable = this.#sql
        .get<[string], { id: string }>("SELECT id FROM streams WHERE state = 'open' AND resumable = 1 AND interrupted_at IS NULL AND gateway_node = ?")
        .all(node);
      for (const r of resumable) {
        this.#sql.get('UPDATE streams SET interrupted_at = ?, interruptions = interruptions + 1 WHERE id = ?').run(at, r.id);
        this.#sql.get('INSERT INTO stream_interruptions (stream_id, interrupted_at) VALUES (?, ?)').run(r.id, at);
      }
      return this.#sql
        .get(
          `UPDATE streams SET state = 'ended', ended_at = ?, closed_by = 'hub', reason = ?,
             result = CASE WHEN result IS NULL THEN ? ELSE result END
           WHERE state != 'ended' AND NOT (resumable = 1 AND state = 'open') AND (gateway_node = ? OR (gateway_node IS NULL AND node = ?))`,
        )
        .run(at, reason, result, node, node).changes;
    })();
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
      .get<[], { n: string }>("SELECT DISTINCT COALESCE(gateway_node, node) AS n FROM streams WHERE state != 'ended' AND interrupted_at IS NULL")
      .all()
      .map((r) => r.n);
  }

  async countLive(deviceId?: string): Promise<number> {
    if (deviceId === undefined) return this.#sql.get<[], { n: number }>("SELECT COUNT(*) AS n FROM streams WHERE state != 'ended'").get()?.n ?? 0;
    return this.#sql.get<[string], { n: number }>("SELECT COUNT(*) AS n FROM streams WHERE device_id = ? AND state != 'ended'").get(deviceId)?.n ?? 0;
  }

  async liveCounts(deviceId: string): Promise<{ device: number; all: number }> {
    const r = this.#sql
      .get<[string], { device: number; all: number }>("SELECT COUNT(*) FILTER (WHERE device_id = ?) AS device, COUNT(*) AS \"all\" FROM streams WHERE state != 'ended'")
      .get(deviceId);
    return { device: r?.device ?? 0, all: r?.all ?? 0 };
  }

  async liveFor(deviceId?: string): Promise<StreamRecord[]> {
    if (deviceId === undefined) return this.#sql.get<[], Row>("SELECT * FROM streams WHERE state != 'ended'").all().map(fromRow);
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
      // The first term bounds the index range; the second drops the rows at `before` already shown.
      where.push('created_at <= ? AND (created_at < ? OR id < ?)');
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
