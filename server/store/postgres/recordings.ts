/**
 * Recordings in PostgreSQL: the rows beside the stream log, and the asciicast content as ordered
 * chunks in `recording_chunks`, so every node can replay and download what any node recorded, a
 * backup of the database holds recordings too, and retention deletes rows and content together.
 */
import { Readable } from 'node:stream';
import type { NewRecording, RecordingRow } from '../records.js';
import type { RecordingData, RecordingRepository, RecordingSink } from '../store.js';
import type { Database } from './pool.js';

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
  truncated: boolean;
  input_recorded: boolean;
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
    truncated: r.truncated,
    inputRecorded: r.input_recorded,
    cols: r.cols,
    rows: r.rows,
  };
}

export class PgRecordings implements RecordingRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async insert(r: NewRecording): Promise<void> {
    await this.#db.query(
      'INSERT INTO recordings (stream_id, device_id, operator, operator_id, node, started_at, input_recorded, cols, rows) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
      [r.streamId, r.deviceId, r.operator, r.operatorId, r.node, r.startedAt, r.inputRecorded, r.cols, r.rows],
    );
  }

  async update(streamId: string, p: { size: number; durationMs: number; truncated: boolean; endedAt?: number }): Promise<void> {
    await this.#db.query('UPDATE recordings SET size = $1, duration_ms = $2, truncated = $3, ended_at = COALESCE($4, ended_at) WHERE stream_id = $5', [
      p.size, p.durationMs, p.truncated, p.endedAt ?? null, streamId,
    ]);
  }

  async get(streamId: string): Promise<RecordingRow | undefined> {
    const [r] = await this.#db.rows<Raw>('SELECT * FROM recordings WHERE stream_id = $1', [streamId]);
    return r === undefined ? undefined : fromRaw(r);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, RecordingRow>> {
    const out = new Map<string, RecordingRow>();
    if (ids.length === 0) return out;
    for (const r of await this.#db.rows<Raw>('SELECT * FROM recordings WHERE stream_id = ANY($1)', [ids])) out.set(r.stream_id, fromRaw(r));
    return out;
  }

  async delete(streamId: string): Promise<boolean> {
    return ((await this.#db.query('DELETE FROM recordings WHERE stream_id = $1', [streamId])).rowCount ?? 0) > 0;
  }

  async olderThan(cutoff: number, limit: number): Promise<RecordingRow[]> {
    return (await this.#db.rows<Raw>('SELECT * FROM recordings WHERE started_at < $1 AND ended_at IS NOT NULL ORDER BY started_at LIMIT $2', [cutoff, limit])).map(fromRaw);
  }

  async unfinished(node: string): Promise<RecordingRow[]> {
    return (await this.#db.rows<Raw>('SELECT * FROM recordings WHERE ended_at IS NULL AND node = $1', [node])).map(fromRaw);
  }

  async reopen(streamId: string, node: string): Promise<RecordingRow | undefined> {
    const [r] = await this.#db.rows<Raw>('UPDATE recordings SET ended_at = NULL, node = $1 WHERE stream_id = $2 RETURNING *', [node, streamId]);
    return r === undefined ? undefined : fromRaw(r);
  }

  async setting(name: string): Promise<string | undefined> {
    const [r] = await this.#db.rows<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]);
    return r?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await this.#db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
  }
}

/** Chunks reach the database at this size, or after FLUSH_MS with whatever is buffered. */
const CHUNK_BYTES = 64 * 1024;
const FLUSH_MS = 1000;
/** Chunks read per query when replaying. */
const READ_BATCH = 32;

class ChunkSink implements RecordingSink {
  readonly #db: Database;
  readonly #streamId: string;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #inFlight = 0;
  #seq = 0;
  #failed = false;
  #chain: Promise<void>;
  #timer: NodeJS.Timeout | undefined;

  /** `existing`: append after the chunks the recording has (a resumed terminal session). */
  constructor(db: Database, streamId: string, existing = false) {
    this.#db = db;
    this.#streamId = streamId;
    this.#chain = !existing
      ? Promise.resolve()
      : db.rows<{ next: number }>('SELECT COALESCE(MAX(seq) + 1, 0)::int AS next FROM recording_chunks WHERE stream_id = $1', [streamId]).then(
          ([r]) => {
            this.#seq = r?.next ?? 0;
          },
          () => {
            this.#failed = true;
          },
        );
  }

  get pending(): number {
    return this.#bufferedBytes + this.#inFlight;
  }

  get failed(): boolean {
    return this.#failed;
  }

  write(chunk: Buffer): void {
    if (this.#failed) return;
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    if (this.#bufferedBytes >= CHUNK_BYTES) this.#flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), FLUSH_MS);
      this.#timer.unref();
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#bufferedBytes === 0) return;
    const data = Buffer.concat(this.#buffered);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    this.#inFlight += data.length;
    this.#chain = this.#chain.then(async () => {
      // Numbered when written, in order: an appending sink learns where to start first.
      const seq = this.#seq++;
      if (this.#failed) {
        this.#inFlight -= data.length;
        return;
      }
      try {
        await this.#db.query('INSERT INTO recording_chunks (stream_id, seq, data) VALUES ($1, $2, $3)', [this.#streamId, seq, data]);
      } catch {
        this.#failed = true;
      } finally {
        this.#inFlight -= data.length;
      }
    });
  }

  async close(): Promise<void> {
    this.#flush();
    await this.#chain;
  }
}

export class PgRecordingData implements RecordingData {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  create(streamId: string): RecordingSink {
    return new ChunkSink(this.#db, streamId);
  }

  append(streamId: string): RecordingSink {
    return new ChunkSink(this.#db, streamId, true);
  }

  async read(streamId: string): Promise<Readable | undefined> {
    const [first] = await this.#db.rows<{ n: number }>('SELECT COUNT(*)::int AS n FROM recording_chunks WHERE stream_id = $1', [streamId]);
    if ((first?.n ?? 0) === 0) return undefined;
    const db = this.#db;
    async function* chunks(): AsyncGenerator<Buffer> {
      let next = 0;
      for (;;) {
        const rows = await db.rows<{ seq: number; data: Buffer }>(
          'SELECT seq, data FROM recording_chunks WHERE stream_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3',
          [streamId, next, READ_BATCH],
        );
        for (const r of rows) yield r.data;
        if (rows.length < READ_BATCH) return;
        next = (rows.at(-1)?.seq ?? next) + 1;
      }
    }
    return Readable.from(chunks());
  }

  async size(streamId: string): Promise<number> {
    const [r] = await this.#db.rows<{ n: number }>('SELECT COALESCE(SUM(length(data)), 0)::bigint AS n FROM recording_chunks WHERE stream_id = $1', [streamId]);
    return r?.n ?? 0;
  }

  async delete(streamId: string): Promise<void> {
    await this.#db.query('DELETE FROM recording_chunks WHERE stream_id = $1', [streamId]);
  }
}
