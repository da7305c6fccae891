/** Rows of the recordings table and the console settings. */
import { Statements, type Db } from '../../store/database.js';

export interface RecordingRow {
  streamId: string;
  deviceId: string;
  operator: string | null;
  /** The operator account that opened the session (its id, never reused). */
  operatorId: string | null;
  path: string;
  startedAt: number;
  endedAt: number | null;
  durationMs: number;
  size: number;
  truncated: boolean;
  inputRecorded: boolean;
  cols: number;
  rows: number;
}

interface Raw {
  stream_id: string;
  device_id: string;
  operator: string | null;
  operator_id: string | null;
  path: string;
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
    path: r.path,
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

export class RecordingStore {
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#sql = new Statements(db);
  }

  insert(r: Omit<RecordingRow, 'endedAt' | 'durationMs' | 'size' | 'truncated'>): void {
    this.#sql
      .get('INSERT INTO recordings (stream_id, device_id, operator, operator_id, path, started_at, input_recorded, cols, rows) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(r.streamId, r.deviceId, r.operator, r.operatorId, r.path, r.startedAt, r.inputRecorded ? 1 : 0, r.cols, r.rows);
  }

  /** Records progress (size, duration) and, when `endedAt` is given, the end. */
  update(streamId: string, p: { size: number; durationMs: number; truncated: boolean; endedAt?: number }): void {
    this.#sql
      .get('UPDATE recordings SET size = ?, duration_ms = ?, truncated = ?, ended_at = COALESCE(?, ended_at) WHERE stream_id = ?')
      .run(p.size, p.durationMs, p.truncated ? 1 : 0, p.endedAt ?? null, streamId);
  }

  get(streamId: string): RecordingRow | undefined {
    const r = this.#sql.get<[string], Raw>('SELECT * FROM recordings WHERE stream_id = ?').get(streamId);
    return r === undefined ? undefined : fromRaw(r);
  }

  /** Rows for many streams at once (history pages). */
  getMany(ids: readonly string[]): Map<string, RecordingRow> {
    const out = new Map<string, RecordingRow>();
    if (ids.length === 0) return out;
    const rows = this.#sql.get<string[], Raw>(`SELECT * FROM recordings WHERE stream_id IN (${ids.map(() => '?').join(',')})`).all(...ids);
    for (const r of rows) out.set(r.stream_id, fromRaw(r));
    return out;
  }

  delete(streamId: string): boolean {
    return this.#sql.get('DELETE FROM recordings WHERE stream_id = ?').run(streamId).changes > 0;
  }

  /** Ended recordings that started before `cutoff`. */
  olderThan(cutoff: number, limit: number): RecordingRow[] {
    return this.#sql
      .get<[number, number], Raw>('SELECT * FROM recordings WHERE started_at < ? AND ended_at IS NOT NULL ORDER BY started_at LIMIT ?')
      .all(cutoff, limit)
      .map(fromRaw);
  }

  /** Recordings left without an end by a previous run (the process died). */
  unfinished(): RecordingRow[] {
    return this.#sql.get<[], Raw>('SELECT * FROM recordings WHERE ended_at IS NULL').all().map(fromRaw);
  }

  setting(name: string): string | undefined {
    return this.#sql.get<[string], { value: string }>('SELECT value FROM settings WHERE name = ?').get(name)?.value;
  }

  setSetting(name: string, value: string): void {
    this.#sql.get('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }
}
