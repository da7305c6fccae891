/** Resumable terminal sessions of the console in SQLite (see ../terminal-sessions.ts). */
import type { NewTerminalSession, TerminalSessionDetach, TerminalSessionRepository, TerminalSessionRow } from '../terminal-sessions.js';
import { Statements, type Db } from './database.js';

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
  attached: number;
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
    attached: r.attached === 1,
    createdAt: r.created_at,
    detachedAt: r.detached_at,
    expiresAt: r.expires_at,
    detachTimeoutMs: r.detach_timeout_ms,
    outputRecorded: r.output_recorded,
    inputRecorded: r.input_recorded,
  };
}

export class SqliteTerminalSessions implements TerminalSessionRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  async create(s: NewTerminalSession): Promise<void> {
    this.#sql
      .get(
        `INSERT INTO terminal_sessions (session_id, device_id, operator, operator_id, secret, recording_id, stream_id, node, attach_seq, attached, created_at, detach_timeout_ms)
         VALUES (?,?,?,?,?,?,?,?,1,1,?,?)`,
      )
      .run(s.sessionId, s.deviceId, s.operator, s.operatorId, s.secret, s.recordingId, s.streamId, s.node, s.createdAt, s.detachTimeoutMs);
  }

  async get(sessionId: string): Promise<TerminalSessionRow | undefined> {
    const r = this.#sql.get<[string], Raw>('SELECT * FROM terminal_sessions WHERE session_id = ?').get(sessionId);
    return r === undefined ? undefined : fromRaw(r);
  }

  async attach(sessionId: string, node: string, streamId: string, _at: number): Promise<number | undefined> {
    const r = this.#sql
      .get<[string, string, string], { attach_seq: number }>(
        'UPDATE terminal_sessions SET attach_seq = attach_seq + 1, attached = 1, node = ?, stream_id = ?, detached_at = NULL, expires_at = NULL WHERE session_id = ? RETURNING attach_seq',
      )
      .get(node, streamId, sessionId);
    return r?.attach_seq;
  }

  async detach(sessionId: string, seq: number, d: TerminalSessionDetach): Promise<boolean> {
    return (
      this.#sql
        .get('UPDATE terminal_sessions SET attached = 0, detached_at = ?, expires_at = ?, output_recorded = ?, input_recorded = ? WHERE session_id = ? AND attach_seq = ?')
        .run(d.at, d.expiresAt, d.outputRecorded, d.inputRecorded, sessionId, seq).changes > 0
    );
  }

  async list(q: { operatorId?: string | undefined; now: number; limit: number }): Promise<TerminalSessionRow[]> {
    const rows =
      q.operatorId === undefined
        ? this.#sql.get<[number, number], Raw>('SELECT * FROM terminal_sessions WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at DESC, session_id LIMIT ?').all(q.now, q.limit)
        : this.#sql
            .get<[string, number, number], Raw>('SELECT * FROM terminal_sessions WHERE operator_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, session_id LIMIT ?')
            .all(q.operatorId, q.now, q.limit);
    return rows.map(fromRaw);
  }

  async delete(sessionId: string): Promise<boolean> {
    return this.#sql.get('DELETE FROM terminal_sessions WHERE session_id = ?').run(sessionId).changes > 0;
  }

  async detachNode(node: string, at: number): Promise<number> {
    return this.#sql
      .get('UPDATE terminal_sessions SET attached = 0, detached_at = ?, expires_at = ? + detach_timeout_ms WHERE node = ? AND attached = 1')
      .run(at, at, node).changes;
  }

  async deleteExpired(now: number): Promise<number> {
    return this.#sql.get('DELETE FROM terminal_sessions WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }
}
