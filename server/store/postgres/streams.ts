/** The stream log in PostgreSQL. */
import type { ClosedBy, NewStream, StreamEnd, StreamInterruption, StreamQuery, StreamBytes, StreamRecord, StreamResult, StreamState, TimedOutStream } from '../records.js';
import { parseTransfer, transferColumn } from '../json-columns.js';
import { growth } from '../stream-bytes.js';
import type { StreamRepository } from '../store.js';
import type { Database } from './pool.js';

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
  resumable: boolean;
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
    resumable: r.resumable,
    resumeWindowMs: r.resume_window_ms,
    interruptedAt: r.interrupted_at,
    interruptions: r.interruptions,
    resumes: r.resumes,
  };
}

export class PgStreams implements StreamRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(s: NewStream): Promise<void> {
    await this.#db.query(
      `INSERT INTO streams (id, device_id, stream_name, initiator, operator, state, created_at, node, resumable, resume_window_ms, service_resume_hash, device_resume_hash, transfer)
       VALUES ($1,$2,$3,$4,$5,'pending',$6,$7,$8,$9,$10,$11,$12)`,
      [s.id, s.deviceId, s.streamName, s.initiator, s.operator, s.createdAt, s.node, s.resume !== undefined, s.resume?.windowMs ?? 0, s.resume?.serviceKeyHash ?? null, s.resume?.deviceKeyHash ?? null, transferColumn(s.transfer)],
    );
  }

  async resumeKeyHash(id: string, side: 'service' | 'device'): Promise<string | undefined> {
    const [r] = await this.#db.rows<{ s: string | null; d: string | null; resumable: boolean }>('SELECT service_resume_hash AS s, device_resume_hash AS d, resumable FROM streams WHERE id = $1', [id]);
    if (r === undefined || !r.resumable) return undefined;
    return (side === 'service' ? r.s : r.d) ?? undefined;
  }

  interrupted(id: string, at: number, totals: StreamBytes): Promise<StreamBytes | undefined> {
    return this.#db.transaction(async (c) => {
      const { rows } = await c.query<{ state: string; interrupted_at: number | null; resumable: boolean; bytes_to_device: number; bytes_from_device: number }>(
        'SELECT state, interrupted_at, resumable, bytes_to_device, bytes_from_device FROM streams WHERE id = $1 FOR UPDATE',
        [id],
      );
      const r = rows[0];
      if (r === undefined || r.state === 'ended' || !r.resumable) return undefined;
      const grown = growth(r, totals);
      await c.query('UPDATE streams SET bytes_to_device = bytes_to_device + $1, bytes_from_device = bytes_from_device + $2 WHERE id = $3', [grown.bytesToDevice, grown.bytesFromDevice, id]);
      const last = await c.query<{ at: number | null }>('SELECT MAX(resumed_at) AS at FROM stream_interruptions WHERE stream_id = $1', [id]);
      const lastResume = last.rows[0]?.at ?? null;
      if (r.interrupted_at === null && (lastResume === null || Number(lastResume) < at)) {
        await c.query('UPDATE streams SET interrupted_at = $1, interruptions = interruptions + 1 WHERE id = $2', [at, id]);
        await c.query('INSERT INTO stream_interruptions (stream_id, interrupted_at) VALUES ($1, $2)', [id, at]);
      }
      return grown;
    });
  }

  resumed(id: string, at: number): Promise<boolean> {
    return this.#db.transaction(async (c) => {
      const { rows } = await c.query<{ interrupted_at: number | null; state: string }>('SELECT interrupted_at, state FROM streams WHERE id = $1 FOR UPDATE', [id]);
      const r = rows[0];
      if (r === undefined || r.state === 'ended') return false;
      const since = r.interrupted_at;
      if (since === null) return true;
      await c.query("UPDATE streams SET interrupted_at = NULL, resumes = resumes + 1, state = CASE WHEN state = 'accepted' THEN 'open' ELSE state END WHERE id = $1", [id]);
      await c.query('UPDATE stream_interruptions SET resumed_at = $1 WHERE stream_id = $2 AND interrupted_at = $3 AND resumed_at IS NULL', [at, id, since]);
      return true;
    });
  }

  async endResumeTimeouts(now: number): Promise<TimedOutStream[]> {
    return (await this.#db.rows<{ id: string; gateway_node: string | null; reason: string }>(
      `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = 'hub', close_code = 4010,
         reason = 'resumeTimeout: not resumed within ' || (resume_window_ms / 1000) || ' s'
       WHERE interrupted_at IS NOT NULL AND state <> 'ended' AND interrupted_at + resume_window_ms < $1
       RETURNING id, gateway_node, reason`,
      [now],
    )).map((r) => ({ id: r.id, gatewayNode: r.gateway_node, reason: r.reason }));
  }

  async interruptionsOf(id: string, limit: number): Promise<StreamInterruption[]> {
    return (await this.#db.rows<{ interrupted_at: number; resumed_at: number | null }>(
      'SELECT interrupted_at, resumed_at FROM stream_interruptions WHERE stream_id = $1 ORDER BY interrupted_at LIMIT $2',
      [id, limit],
    )).map((r) => ({ interruptedAt: r.interrupted_at, resumedAt: r.resumed_at }));
  }

  async moveGateway(id: string, from: string | null, to: string): Promise<boolean> {
    const r = await this.#db.query('UPDATE streams SET gateway_node = $1 WHERE id = $2 AND gateway_node IS NOT DISTINCT FROM $3', [to, id, from]);
    return (r.rowCount ?? 0) > 0;
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    const [row] = await this.#db.rows<Row>('SELECT * FROM streams WHERE id = $1', [id]);
    return row === undefined ? undefined : fromRow(row);
  }

  async answer(id: string, result: StreamResult, reason: string | null, at: number, gatewayNode?: string, deviceAnsweredAt?: number): Promise<void> {
    const update = result === 'accepted'
      ? { sql: "UPDATE streams SET state = 'accepted', result = $1, accepted_at = $2, gateway_node = $3 WHERE id = $4 AND state = 'pending'", args: [result, at, gatewayNode ?? null, id] }
      : { sql: "UPDATE streams SET state = 'ended', result = $1, reason = $2, ended_at = $3, closed_by = 'hub' WHERE id = $4 AND state <> 'ended'", args: [result, reason, at, id] };
    if (deviceAnsweredAt === undefined) {
      await this.#db.query(update.sql, update.args);
      return;
    }
    // One round trip for both: an initiation's statements are most of the store's work under load.
    const n = update.args.length;
    await this.#db.query(
      `WITH answered AS (${update.sql})
       UPDATE devices SET last_activity_time = $${n + 1} WHERE device_id = (SELECT device_id FROM streams WHERE id = $${n + 2})`,
      [...update.args, new Date(deviceAnsweredAt).toISOString(), id],
    );
  }

  async opened(id: string, at: number, v2 = true): Promise<void> {
    await this.#db.query(
      "UPDATE streams SET state = 'open', connected_at = $1, resumable = CASE WHEN $3::boolean THEN resumable ELSE false END WHERE id = $2 AND state = 'accepted'",
      [at, id, v2],
    );
  }

  async handshakeTimedOut(id: string, at: number): Promise<boolean> {
    const r = await this.#db.query(
      "UPDATE streams SET state = 'ended', result = 'handshakeTimeout', reason = 'both sides did not connect in time', ended_at = $1, closed_by = 'hub' WHERE id = $2 AND state = 'accepted'",
      [at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  ended(id: string, end: StreamEnd, at: number): Promise<StreamBytes | undefined> {
    return this.#db.transaction(async (c) => {
      const { rows } = await c.query<{ state: string; bytes_to_device: number; bytes_from_device: number }>('SELECT state, bytes_to_device, bytes_from_device FROM streams WHERE id = $1 FOR UPDATE', [id]);
      const r = rows[0];
      if (r === undefined || r.state === 'ended') return undefined;
      const grown = growth(r, end);
      await c.query(
        `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = $2, close_code = $3, reason = $4,
           bytes_to_device = bytes_to_device + $5, bytes_from_device = bytes_from_device + $6, interrupted_at = NULL
         WHERE id = $7`,
        [at, end.closedBy, end.closeCode, end.reason, grown.bytesToDevice, grown.bytesFromDevice, id],
      );
      return grown;
    });
  }

  closeNodeStreams(node: string, result: 'hubRestart' | 'nodeLost', at: number): Promise<number> {
    const reason = result === 'hubRestart' ? 'hubRestart' : `nodeLost: node ${node} stopped`;
    return this.#db.transaction(async (c) => {
      // Open resumable streams are not over: their sides come back through another leg.
      const interrupted = await c.query<{ id: string }>(
        "UPDATE streams SET interrupted_at = $1, interruptions = interruptions + 1 WHERE state = 'open' AND resumable AND interrupted_at IS NULL AND gateway_node = $2 RETURNING id",
        [at, node],
      );
      for (const r of interrupted.rows) await c.query('INSERT INTO stream_interruptions (stream_id, interrupted_at) VALUES ($1, $2)', [r.id, at]);
      const ended = await c.query(
        `UPDATE streams SET state = 'ended', ended_at = $1, closed_by = 'hub', reason = $2, result = COALESCE(result, $3)
         WHERE state <> 'ended' AND NOT (resumable AND state = 'open') AND (gateway_node = $4 OR (gateway_node IS NULL AND node = $4))`,
        [at, reason, result, node],
      );
      return ended.rowCount ?? 0;
    });
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
    return (await this.#db.rows<{ n: string }>("SELECT DISTINCT COALESCE(gateway_node, node) AS n FROM streams WHERE state <> 'ended' AND interrupted_at IS NULL")).map((r) => r.n);
  }

  async countLive(deviceId?: string): Promise<number> {
    const [r] = deviceId === undefined
      ? await this.#db.rows<{ n: number }>("SELECT COUNT(*)::int AS n FROM streams WHERE state <> 'ended'")
      : await this.#db.rows<{ n: number }>("SELECT COUNT(*)::int AS n FROM streams WHERE device_id = $1 AND state <> 'ended'", [deviceId]);
    return r?.n ?? 0;
  }

  async liveCounts(deviceId: string): Promise<{ device: number; all: number }> {
    const [r] = await this.#db.rows<{ device: number; all: number }>(
      "SELECT COUNT(*) FILTER (WHERE device_id = $1)::int AS device, COUNT(*)::int AS all FROM streams WHERE state <> 'ended'",
      [deviceId],
    );
    return { device: r?.device ?? 0, all: r?.all ?? 0 };
  }

  async liveFor(deviceId?: string): Promise<StreamRecord[]> {
    if (deviceId === undefined) return (await this.#db.rows<Row>("SELECT * FROM streams WHERE state <> 'ended'", [])).map(fromRow);
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
