/** Resumable terminal sessions of the console in PostgreSQL (see ../terminal-sessions.ts). */
import type { NewTerminalSession, TerminalSessionDetach, TerminalSessionRepository, TerminalSessionRow } from '../terminal-sessions.js';
import type { Database } from './pool.js';

interface Raw {
  session_id: string;
  device_id: string;
  operator: string;
  operator_id: string;
  secret: string;
  recording_id: string | null;
  stream_id: string;
  node: string;
  attach_seq: number;
  attached: boolean;
  created_at: number;
  detached_at: number | null;
  expires_at: number | null;
  detach_timeout_ms: number;
  output_recorded: number;
  input_recorded: number;
}

function fromRaw(r: Raw): TerminalSessionRow {
  return {
    sessionId: r.session_id,
    deviceId: r.device_id,
    operator: r.operator,
    operatorId: r.operator_id,
    secret: r.secret,
    recordingId: r.recording_id,
    streamId: r.stream_id,
    node: r.node,
    attachSeq: r.attach_seq,
    attached: r.attached,
    createdAt: r.created_at,
    detachedAt: r.detached_at,
    expiresAt: r.expires_at,
    detachTimeoutMs: r.detach_timeout_ms,
    outputRecorded: r.output_recorded,
    inputRecorded: r.input_recorded,
  };
}

export class PgTerminalSessions implements TerminalSessionRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(s: NewTerminalSession): Promise<void> {
    await this.#db.query(
      `INSERT INTO terminal_sessions (session_id, device_id, operator, operator_id, secret, recording_id, stream_id, node, attach_seq, attached, created_at, detach_timeout_ms)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,1,true,$9,$10)`,
      [s.sessionId, s.deviceId, s.operator, s.operatorId, s.secret, s.recordingId, s.streamId, s.node, s.createdAt, s.detachTimeoutMs],
    );
  }

  async get(sessionId: string): Promise<TerminalSessionRow | undefined> {
    const [r] = await this.#db.rows<Raw>('SELECT * FROM terminal_sessions WHERE session_id = $1', [sessionId]);
    return r === undefined ? undefined : fromRaw(r);
  }

  async attach(sessionId: string, node: string, streamId: string, _at: number): Promise<number | undefined> {
    const [r] = await this.#db.rows<{ attach_seq: number }>(
      'UPDATE terminal_sessions SET attach_seq = attach_seq + 1, attached = true, node = $1, stream_id = $2, detached_at = NULL, expires_at = NULL WHERE session_id = $3 RETURNING attach_seq',
      [node, streamId, sessionId],
    );
    return r?.attach_seq;
  }

  async detach(sessionId: string, seq: number, d: TerminalSessionDetach): Promise<boolean> {
    const r = await this.#db.query(
      'UPDATE terminal_sessions SET attached = false, detached_at = $1, expires_at = $2, output_recorded = $3, input_recorded = $4 WHERE session_id = $5 AND attach_seq = $6',
      [d.at, d.expiresAt, d.outputRecorded, d.inputRecorded, sessionId, seq],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async list(q: { operatorId?: string | undefined; now: number; limit: number }): Promise<TerminalSessionRow[]> {
    const rows =
      q.operatorId === undefined
        ? await this.#db.rows<Raw>('SELECT * FROM terminal_sessions WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, session_id LIMIT $2', [q.now, q.limit])
        : await this.#db.rows<Raw>(
            'SELECT * FROM terminal_sessions WHERE operator_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, session_id LIMIT $3',
            [q.operatorId, q.now, q.limit],
          );
    return rows.map(fromRaw);
  }

  async delete(sessionId: string): Promise<boolean> {
    return ((await this.#db.query('DELETE FROM terminal_sessions WHERE session_id = $1', [sessionId])).rowCount ?? 0) > 0;
  }

  async detachNode(node: string, at: number): Promise<number> {
    const r = await this.#db.query('UPDATE terminal_sessions SET attached = false, detached_at = $1, expires_at = $1 + detach_timeout_ms WHERE node = $2 AND attached', [at, node]);
    return r.rowCount ?? 0;
  }

  async deleteExpired(now: number): Promise<number> {
    return (await this.#db.query('DELETE FROM terminal_sessions WHERE expires_at IS NOT NULL AND expires_at <= $1', [now])).rowCount ?? 0;
  }
}
