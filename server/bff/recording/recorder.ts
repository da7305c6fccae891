/**
 * Session recording: taps each console terminal (it already sees the terminal protocol in clear),
 * writes output, resizes, the exit code and — only when an admin turned it on — keystrokes into an
 * asciicast file per terminal session, and lets admins watch a live session read-only. Bounded
 * everywhere: the file by a size budget, watchers by a send buffer, the catch-up screen by a small
 * ring buffer.
 *
 * A resumable session (terminal protocol version 2) has one recording across all its connections,
 * named by the stream id of the first: each later connection appends to it, with a marker where the
 * session was detached and where it came back (and how much output the device no longer had, if
 * any). Output and input are counted in the session's own offsets, so what a reattach replays and
 * what the browser sends again are not recorded twice.
 */
import type { Readable } from 'node:stream';
import type { RecordingInfo } from '../../../shared/console-api.js';
import { SessionCloseCode, encodeData, encodeFrame, type TerminalFrame } from '../../../shared/terminal-protocol.js';
import type { TerminalTap } from '../terminal-socket.js';
import type { RecordingRow, Store, TerminalSessionRow } from '../../store/store.js';
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
  /** The recording's id: the stream id of the session's first connection. */
  streamId: string;
  writer: CastWriter | undefined;
  /** Session offsets: of the next output byte from the device, and of the next input byte. */
  outputAt: number;
  inputAt: number;
  /** Session offsets up to which output and input are in the recording (or were skipped on purpose). */
  outputRecorded: number;
  inputRecorded: number;
  /**
   * A resumed connection until its ATTACHED (for the marker): since when the session was detached,
   * or null when another connection still had it (a takeover); and the output offset the page asked
   * to resume from (its attach HELLO).
   */
  resumed: { detachedAt: number | null; requested?: number } | undefined;
  /** Another connection of the session took over: this one's tap records nothing more. */
  superseded: boolean;
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

  #newLive(streamId: string, startedAt: number, offsets: { output: number; input: number }, resumed?: Live['resumed']): Live {
    const live: Live = {
      saving: Promise.resolve(),
      streamId,
      writer: undefined,
      outputAt: offsets.output,
      inputAt: offsets.input,
      outputRecorded: offsets.output,
      inputRecorded: offsets.input,
      resumed,
      superseded: false,
      cols: 80,
      rows: 24,
      catchUp: [],
      catchUpBytes: 0,
      viewers: new Set(),
      startedAt,
      progress: setInterval(() => this.#saveProgress(live), PROGRESS_INTERVAL_MS),
    };
    live.progress.unref();
    this.#live.set(streamId, live);
    return live;
  }

  /** Starts recording a terminal (a new session); the returned tap sees its frames. */
  async start(s: { streamId: string; operator: string; operatorId: string; deviceId: string }): Promise<TerminalTap> {
    const recordInput = await this.recordInput();
    const live = this.#newLive(s.streamId, Date.now(), { output: 0, input: 0 });
    return this.#tap(live, recordInput, (hello) => {
      live.writer = new CastWriter(this.#o.store.recordingData.create(s.streamId, live.startedAt), {
        cols: hello.cols,
        rows: hello.rows,
        timestamp: Math.floor(live.startedAt / 1000),
        title: `${s.operator}@${s.deviceId}`,
        term: hello.term,
      }, this.#o.budgetBytes, live.startedAt);
      const row = { streamId: s.streamId, deviceId: s.deviceId, operator: s.operator, operatorId: s.operatorId, node: this.#o.node, startedAt: live.startedAt, inputRecorded: recordInput, cols: hello.cols, rows: hello.rows };
      this.#save(live, () => this.#o.store.recordings.insert(row));
    });
  }

  /**
   * Goes on with the recording of a resumable session that a new connection reattaches: appends
   * to it (this node writes it now; a connection of the same session still recording here stops).
   * Undefined when the session has no recording (any more).
   */
  async resume(session: TerminalSessionRow): Promise<TerminalTap | undefined> {
    const id = session.recordingId;
    if (id === null) return undefined;
    let offsets = { output: session.outputRecorded, input: session.inputRecorded };
    const old = this.#live.get(id);
    let carried: Pick<Live, 'viewers' | 'catchUp' | 'catchUpBytes' | 'cols' | 'rows'> | undefined;
    if (old !== undefined) {
      // Taken over on this node: the old connection's tap stops (two writers must never append to
      // one file), its counts are the freshest, and its watchers and screen go on with the new one.
      old.superseded = true;
      offsets = { output: Math.max(offsets.output, old.outputRecorded), input: Math.max(offsets.input, old.inputRecorded) };
      carried = { viewers: old.viewers, catchUp: old.catchUp, catchUpBytes: old.catchUpBytes, cols: old.cols, rows: old.rows };
      old.viewers = new Set();
      await this.#end(old);
    }
    const row = await this.#o.store.recordings.reopen(id, this.#o.node);
    if (row === undefined) {
      for (const v of carried?.viewers ?? []) v.ended();
      return undefined;
    }
    const size = await this.#o.store.recordingData.size(id, row.startedAt);
    const live = this.#newLive(id, row.startedAt, offsets, { detachedAt: session.attached ? null : session.detachedAt });
    live.cols = row.cols;
    live.rows = row.rows;
    if (carried !== undefined) Object.assign(live, carried);
    // Nothing stored yet when the node that started it died before its first write reached the
    // store: the recording starts here, with its header, so that it can be played.
    const header = { cols: row.cols, rows: row.rows, timestamp: Math.floor(row.startedAt / 1000), title: `${row.operator}@${row.deviceId}`, term: '' };
    live.writer = new CastWriter(this.#o.store.recordingData.append(id, row.startedAt), header, this.#o.budgetBytes, row.startedAt, size === 0 ? undefined : {
      size,
      truncated: row.truncated,
      lastEventMs: row.durationMs,
    });
    return this.#tap(live, row.inputRecorded);
  }

  /** The tap of one connection: frames each way go to the recording and to watchers. */
  #tap(live: Live, recordInput: boolean, onHello?: (hello: Extract<TerminalFrame, { type: 'hello' }>) => void): TerminalTap {
    return {
      fromBrowser: (frames) => {
        if (live.superseded) return;
        for (const f of frames) {
          if (f.type === 'hello') {
            if (live.writer === undefined && onHello !== undefined) {
              live.cols = f.cols;
              live.rows = f.rows;
              onHello(f);
            } else {
              if (f.session?.mode === 'attach' && live.resumed !== undefined) live.resumed.requested = f.session.outputOffset;
              if (f.cols !== live.cols || f.rows !== live.rows) this.#resize(live, f.cols, f.rows);
            }
          } else if (f.type === 'resize') {
            this.#resize(live, f.cols, f.rows);
          } else if (f.type === 'data') {
            const data = unseen(f.data, live.inputAt, live.inputRecorded);
            live.inputAt += f.data.length;
            if (data.length === 0) continue;
            live.inputRecorded = live.inputAt;
            if (recordInput) live.writer?.input(data);
          }
        }
      },
      fromDevice: (frames) => {
        if (live.superseded) return;
        for (const f of frames) {
          if (f.type === 'data') {
            const data = unseen(f.data, live.outputAt, live.outputRecorded);
            live.outputAt += f.data.length;
            if (data.length === 0) continue;
            live.outputRecorded = live.outputAt;
            live.writer?.output(data);
            this.#remember(live, data);
            for (const frame of encodeData(data)) this.#toWatchers(live, frame);
          } else if (f.type === 'attached') {
            const from = live.resumed?.detachedAt ?? null;
            const how = from === null ? ' (taken over from another connection)' : ` after ${((Date.now() - from) / 1000).toFixed(1)} s detached`;
            // Output the device no longer had: what it skipped of what the page asked for, beyond what
            // is recorded. (The session's recorded count is stale when the console node carrying its
            // last connection died before saving it; the page's own count is not.)
            const lost = f.outputOffset - Math.max(live.outputRecorded, live.resumed?.requested ?? 0);
            live.writer?.marker(`reattached${how}${lost > 0 ? `; ${lost} bytes of output printed meanwhile were no longer kept by the device` : ''}`);
            live.resumed = undefined;
            live.outputAt = f.outputOffset;
            live.inputAt = f.inputReceived;
            if (lost > 0) live.outputRecorded = f.outputOffset;
          } else if (f.type === 'exit') {
            live.writer?.marker(`exit ${f.code}`);
            this.#toWatchers(live, encodeFrame(f));
          } else if (f.type === 'close' && f.code !== SessionCloseCode.TakenOver) {
            live.writer?.marker(`session ended: ${f.message}`);
          }
        }
      },
      broken: (reason) => {
        // The shell server closes the stream on a malformed frame; the recording just stops here.
        live.writer?.marker(`recording stopped: ${reason}`);
        live.superseded = true;
      },
      offsets: () => ({ output: live.outputRecorded, input: live.inputRecorded }),
      end: (detached) => {
        if (detached === true && !live.superseded) live.writer?.marker('detached: the connection dropped; the session goes on without it');
        void this.#end(live);
      },
    };
  }

  #resize(live: Live, cols: number, rows: number): void {
    live.cols = cols;
    live.rows = rows;
    live.writer?.resize(cols, rows);
    this.#toWatchers(live, encodeFrame({ type: 'resize', cols, rows }));
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

  /**
   * Puts a marker in a recording being written here (a file transfer started from its terminal
   * page); false when it is not (not recorded, ended, or written by another node of a cluster).
   */
  mark(recordingId: string, label: string): boolean {
    const live = this.#live.get(recordingId);
    if (live?.writer === undefined || live.superseded) return false;
    live.writer.marker(label);
    return true;
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

/** The part of `data` (which starts at session offset `at`) beyond offset `recorded`. */
function unseen(data: Uint8Array, at: number, recorded: number): Uint8Array {
  if (at >= recorded) return data;
  return data.subarray(Math.min(data.length, recorded - at));
}
