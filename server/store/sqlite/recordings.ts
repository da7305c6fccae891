/** Recording rows and console settings in SQLite; the recordings' content is in files (recording-files.ts). */
import type { NewRecording, RecordingRow } from '../records.js';
import type { RecordingRepository } from '../store.js';
import { Statements, type Db } from './database.js';

interface Raw {
  stream_id: string;
  device_id: string;
  operator: string | null;
  operator_id: string | null;
  node: string;
  started_at: number;
  ended_at: number | null;
  duration_ms: number;
  size: number;
  truncated: number;
  input_recorded: number;
  cols: number;
  rows: number;
}

function fromRaw(r: Raw): RecordingRow {
  return {
    streamId: r.stream_id,
    deviceId: r.device_id,
    operator: r.operator,
    operatorId: r.operator_id,
    node: r.node,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms,
    size: r.size,
    truncated: r.truncated === 1,
    inputRecorded: r.input_recorded === 1,
    cols: r.cols,
    rows: r.rows,
  };
}

/** Where a recording's file lives, relative to the data directory. */
export function recordingFile(streamId: string, startedAt: number): string {
  return `recordings/${new Date(startedAt).toISOString().slice(0, 10)}/${streamId}.cast`;
}

export class SqliteRecordings implements RecordingRepository {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  async insert(r: NewRecording): Promise<void> {
    this.#sql
      .get('INSERT INTO recordings (stream_id, device_id, operator, operator_id, node, path, started_at, input_recorded, cols, rows) VALUES (?,?,?,?,?,?,?,?,?,?)')
      .run(r.streamId, r.deviceId, r.operator, r.operatorId, r.node, recordingFile(r.streamId, r.startedAt), r.startedAt, r.inputRecorded ? 1 : 0, r.cols, r.rows);
  }

  async update(streamId: string, p: { size: number; durationMs: number; truncated: boolean; endedAt?: number }): Promise<void> {
    this.#sql
      .get('UPDATE recordings SET size = ?, duration_ms = ?, truncated = ?, ended_at = COALESCE(?, ended_at) WHERE stream_id = ?')
      .run(p.size, p.durationMs, p.truncated ? 1 : 0, p.endedAt ?? null, streamId);
  }

  async get(streamId: string): Promise<RecordingRow | undefined> {
    const r = this.#sql.get<[string], Raw>('SELECT * FROM recordings WHERE stream_id = ?').get(streamId);
    return r === undefined ? undefined : fromRaw(r);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, RecordingRow>> {
    const out = new Map<string, RecordingRow>();
    if (ids.length === 0) return out;
    const rows = this.#sql.get<string[], Raw>(`SELECT * FROM recordings WHERE stream_id IN (${ids.map(() => '?').join(',')})`).all(...ids);
    for (const r of rows) out.set(r.stream_id, fromRaw(r));
    return out;
  }

  async delete(streamId: string): Promise<boolean> {
    return this.#sql.get('DELETE FROM recordings WHERE stream_id = ?').run(streamId).changes > 0;
  }

  async olderThan(cutoff: number, limit: number): Promise<RecordingRow[]> {
    return this.#sql
      .get<[number, number], Raw>('SELECT * FROM recordings WHERE started_at < ? AND ended_at IS NOT NULL ORDER BY started_at LIMIT ?')
      .all(cutoff, limit)
      .map(fromRaw);
  }

  async unfinished(node: string): Promise<RecordingRow[]> {
    return this.#sql.get<[string], Raw>('SELECT * FROM recordings WHERE ended_at IS NULL AND node = ?').all(node).map(fromRaw);
  }

  async reopen(streamId: string, node: string): Promise<RecordingRow | undefined> {
    const r = this.#sql.get<[string, string], Raw>('UPDATE recordings SET ended_at = NULL, node = ? WHERE stream_id = ? RETURNING *').get(node, streamId);
    return r === undefined ? undefined : fromRaw(r);
  }

  async setting(name: string): Promise<string | undefined> {
    return this.#sql.get<[string], { value: string }>('SELECT value FROM settings WHERE name = ?').get(name)?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    this.#sql.get('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }
}
