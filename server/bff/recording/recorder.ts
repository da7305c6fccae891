/**
 * Session recording: taps each console terminal (it already sees the terminal protocol in clear),
 * writes output, resizes, the exit code and — only when an admin turned it on — keystrokes into an
 * asciicast file per stream, and lets admins watch a live session read-only. Bounded everywhere:
 * the file by a size budget, watchers by a send buffer, the catch-up screen by a small ring buffer.
 */
import type { Readable } from 'node:stream';
import type { RecordingInfo } from '../../../shared/console-api.js';
import { FrameDecoder, encodeData, encodeFrame, type TerminalFrame } from '../../../shared/terminal-protocol.js';
import type { TerminalTap } from '../terminal-bridge.js';
import type { RecordingRow, Store } from '../../store/store.js';
import { CastWriter } from './cast-writer.js';

export interface RecorderOptions {
  store: Store;
  /** This node: the recordings it writes are its own to finish after a crash. */
  node: string;
  /** Per-session size budget of the .cast file (default 64 MiB). */
  budgetBytes: number;
  /** Recordings older than this are deleted (default 30 days). */
  retentionMs: number;
  log: (line: string) => void;
}

/** Output kept for a watcher who joins mid-session (enough to redraw a screen). */
const CATCH_UP_BYTES = 256 * 1024;
/** Sees a live session's output as terminal-protocol frames (a watcher, here or on another node). */
export interface TerminalViewer {
  frame(frame: Uint8Array): void;
  /** The session ended. */
  ended(): void;
}
const PROGRESS_INTERVAL_MS = 2000;
const SWEEP_INTERVAL_MS = 3600_000;

interface Live {
  streamId: string;
  writer: CastWriter | undefined;
  cols: number;
  rows: number;
  catchUp: Uint8Array[];
  catchUpBytes: number;
  viewers: Set<TerminalViewer>;
  progress: NodeJS.Timeout;
  startedAt: number;
  /** The recording's store writes, one after another (the row must exist before its updates). */
  saving: Promise<void>;
}

export class Recorder {
  readonly #o: RecorderOptions;
  readonly #live = new Map<string, Live>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(o: RecorderOptions) {
    this.#o = o;
    this.#sweeper = setInterval(() => void this.sweep().catch((err: unknown) => o.log(`recording retention: ${String(err)}`)), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Finishes the recordings `node` left unfinished (it stopped mid-session), then sweeps once. */
  async recover(node: string = this.#o.node): Promise<number> {
    const rows = await this.#o.store.recordings.unfinished(node);
    for (const r of rows) {
      const size = await this.#o.store.recordingData.size(r.streamId, r.startedAt);
      await this.#o.store.recordings.update(r.streamId, { size, durationMs: r.durationMs, truncated: r.truncated, endedAt: r.startedAt + r.durationMs });
    }
    return rows.length;
  }

  async recordInput(): Promise<boolean> {
    return (await this.#o.store.recordings.setting('recordInput')) === 'true';
  }

  async setRecordInput(on: boolean): Promise<void> {
    await this.#o.store.recordings.setSetting('recordInput', on ? 'true' : 'false');
  }

  isLive(streamId: string): boolean {
    return this.#live.has(streamId);
  }

  /** Bytes written so far by a live session's recording (the stored size lags by up to 2 s). */
  liveSize(streamId: string): number | undefined {
    return this.#live.get(streamId)?.writer?.size;
  }

  /** The row and what the browser may know of it, or undefined when it is gone. */
  async info(streamId: string): Promise<{ row: RecordingRow; info: RecordingInfo } | undefined> {
    const row = await this.#o.store.recordings.get(streamId);
    if (row === undefined) return undefined;
    const live = this.#live.get(streamId);
    return { row, info: this.#present(row, live) };
  }

  /** The whole recording (asciicast), or undefined when its content is gone. */
  read(row: RecordingRow): Promise<Readable | undefined> {
    return this.#o.store.recordingData.read(row.streamId, row.startedAt);
  }

  #present(row: RecordingRow, live: Live | undefined): RecordingInfo {
    return {
      streamId: row.streamId,
      deviceId: row.deviceId,
      operator: row.operator,
      startedAt: new Date(row.startedAt).toISOString(),
      durationMs: live?.writer?.lastEventMs ?? row.durationMs,
      size: live?.writer?.size ?? row.size,
      truncated: live?.writer?.truncated ?? row.truncated,
      inputRecorded: row.inputRecorded,
      // Being written here, or by another node of a cluster (a dead node's are finished by the survivors).
      live: live !== undefined || row.endedAt === null,
      cols: row.cols,
      rows: row.rows,
    };
  }

  #save(live: Live, write: () => Promise<void>): void {
    live.saving = live.saving.then(write).catch((err: unknown) => this.#o.log(`recording ${live.streamId}: could not save: ${String(err)}`));
  }

  /** Starts recording a terminal; the returned tap sees its bytes. */
  async start(s: { streamId: string; operator: string; operatorId: string; deviceId: string }): Promise<TerminalTap> {
    const recordInput = await this.recordInput();
    const live: Live = {
      saving: Promise.resolve(),
      streamId: s.streamId,
      writer: undefined,
      cols: 80,
      rows: 24,
      catchUp: [],
      catchUpBytes: 0,
      viewers: new Set(),
      startedAt: Date.now(),
      progress: setInterval(() => this.#saveProgress(live), PROGRESS_INTERVAL_MS),
    };
    live.progress.unref();
    this.#live.set(s.streamId, live);
    const fromBrowser = new FrameDecoder();
    const fromDevice = new FrameDecoder();
    let broken = false;
    const decode = (decoder: FrameDecoder, chunk: Buffer): TerminalFrame[] => {
      if (broken) return [];
      try {
        return decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (err) {
        // The shell server closes the stream on a malformed frame; the recording just stops here.
        broken = true;
        live.writer?.marker(`recording stopped: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      }
    };
    return {
      fromBrowser: (chunk) => {
        for (const f of decode(fromBrowser, chunk)) {
          if (f.type === 'hello' && live.writer === undefined) {
            live.cols = f.cols;
            live.rows = f.rows;
            live.writer = new CastWriter(this.#o.store.recordingData.create(s.streamId, live.startedAt), {
              cols: f.cols,
              rows: f.rows,
              timestamp: Math.floor(live.startedAt / 1000),
              title: `${s.operator}@${s.deviceId}`,
              term: f.term,
            }, this.#o.budgetBytes, live.startedAt);
            const row = { streamId: s.streamId, deviceId: s.deviceId, operator: s.operator, operatorId: s.operatorId, node: this.#o.node, startedAt: live.startedAt, inputRecorded: recordInput, cols: f.cols, rows: f.rows };
            this.#save(live, () => this.#o.store.recordings.insert(row));
          } else if (f.type === 'resize') {
            live.cols = f.cols;
            live.rows = f.rows;
            live.writer?.resize(f.cols, f.rows);
            this.#toWatchers(live, encodeFrame(f));
          } else if (f.type === 'data' && recordInput) {
            live.writer?.input(f.data);
          }
        }
      },
      fromDevice: (chunk) => {
        for (const f of decode(fromDevice, chunk)) {
          if (f.type === 'data') {
            live.writer?.output(f.data);
            this.#remember(live, f.data);
            for (const frame of encodeData(f.data)) this.#toWatchers(live, frame);
          } else if (f.type === 'exit') {
            live.writer?.marker(`exit ${f.code}`);
            this.#toWatchers(live, encodeFrame(f));
          }
        }
      },
      end: () => void this.#end(live),
    };
  }

  #remember(live: Live, data: Uint8Array): void {
    live.catchUp.push(data);
    live.catchUpBytes += data.length;
    while (live.catchUpBytes - (live.catchUp[0]?.length ?? 0) >= CATCH_UP_BYTES && live.catchUp.length > 1) {
      live.catchUpBytes -= live.catchUp.shift()?.length ?? 0;
    }
  }

  #toWatchers(live: Live, frame: Uint8Array): void {
    for (const v of live.viewers) v.frame(frame);
  }

  #saveProgress(live: Live): void {
    const w = live.writer;
    if (w !== undefined) this.#save(live, () => this.#o.store.recordings.update(live.streamId, { size: w.size, durationMs: w.lastEventMs, truncated: w.truncated }));
  }

  async #end(live: Live): Promise<void> {
    if (this.#live.get(live.streamId) !== live) return;
    this.#live.delete(live.streamId);
    clearInterval(live.progress);
    for (const v of live.viewers) v.ended();
    live.viewers.clear();
    const w = live.writer;
    if (w === undefined) return;
    await w.close();
    const endedAt = Date.now();
    this.#save(live, () => this.#o.store.recordings.update(live.streamId, { size: w.size, durationMs: w.lastEventMs, truncated: w.truncated, endedAt }));
    await live.saving;
  }

  /**
   * Follows a live session: returns the terminal-protocol frames that draw its screen so far (its
   * size, then the recent output) and from then on hands `viewer` every frame; undefined when the
   * session is not live here. `stop()` removes the viewer.
   */
  follow(streamId: string, viewer: TerminalViewer): { snapshot: Uint8Array[]; stop(): void } | undefined {
    const live = this.#live.get(streamId);
    if (live === undefined) return undefined;
    const snapshot = [encodeFrame({ type: 'resize', cols: live.cols, rows: live.rows }), ...live.catchUp.flatMap((chunk) => encodeData(chunk))];
    live.viewers.add(viewer);
    return { snapshot, stop: () => live.viewers.delete(viewer) };
  }

  /** Deletes a recording (file and row); a live session goes on unrecorded. */
  async delete(streamId: string): Promise<boolean> {
    const live = this.#live.get(streamId);
    if (live?.writer !== undefined) {
      const w = live.writer;
      live.writer = undefined;
      await w.close();
    }
    if (live !== undefined) await live.saving;
    const row = await this.#o.store.recordings.get(streamId);
    if (row === undefined) return false;
    await this.#o.store.recordingData.delete(streamId, row.startedAt);
    await this.#o.store.recordings.delete(streamId);
    this.#o.log(`recording ${streamId} deleted`);
    return true;
  }

  /** Deletes recordings past the retention period, once per cluster (other nodes skip while one sweeps). */
  async sweep(now = Date.now()): Promise<number> {
    let n = 0;
    await this.#o.store.exclusively('recording-retention', async () => {
      for (;;) {
        const batch = await this.#o.store.recordings.olderThan(now - this.#o.retentionMs, 500);
        for (const r of batch) {
          await this.#o.store.recordingData.delete(r.streamId, r.startedAt);
          await this.#o.store.recordings.delete(r.streamId);
          n += 1;
        }
        if (batch.length < 500) break;
      }
    });
    if (n > 0) this.#o.log(`deleted ${n} recording(s) past the retention period`);
    return n;
  }

  /** Ends every live recording; resolves when they are saved. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#live.values()].map((live) => this.#end(live)));
  }
}
