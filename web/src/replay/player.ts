/**
 * Plays a parsed asciicast recording into a read-only xterm Terminal at the recorded size
 * (FixedTerminal: the header's size, then each "r" event; the font scales to the page, the
 * terminal never follows the window). Plain class, no React, like TerminalSession: the page
 * mounts it, reads its state through `subscribe`/`getState`, and calls `dispose()` on unmount.
 *
 * Playback. A requestAnimationFrame loop turns wall time × speed into a position on the
 * Timeline (recorded times, with idle gaps longer than the limit — 2 s by default — compressed to
 * the limit when "skip idle" is on) and writes every event that has come due, output joined into
 * one write. Backpressure: while xterm has more than HIGH_WATER_CHARS unparsed the clock holds
 * still, so at 8× a heavy recording slows down instead of queueing without bound; when more than
 * CATCH_UP_CHARS would be due at once (a background tab, a stall) it seeks instead.
 *
 * Fast seek. A recording can be 50 MB of output; replaying it all to reach the end would take
 * seconds. So while the player starts, a KeyframeIndexer (indexer.ts) feeds the whole recording
 * once through a hidden, never-opened xterm and, every 256 Ki characters of output or 30 s of
 * recorded time (and never inside an escape sequence), serializes its screen into a keyframe
 * (screen-snapshot.ts: cells with colours and attributes, 100 lines of scrollback, the alternate
 * screen, cursor and saved cursor, scroll region, pen, charset and a few modes). It does not need
 * @xterm/addon-serialize or @xterm/headless. A seek to time t then
 *   1. finds n, the number of events due at t, and waits until the indexer has passed n;
 *   2. takes the last keyframe at or before n;
 *   3. writes ESC c (a full reset, in the output stream so it is ordered after anything still
 *      queued and also cancels a half-parsed escape sequence), the keyframe's size, its snapshot,
 *      and then the events from the keyframe up to n;
 *   — or, when that is less work, just writes the events from where playback is now up to n.
 * The work of a seek is therefore bounded by the keyframe spacing, not the recording's length.
 * Seeks are coalesced: while one runs, only the latest requested target is kept, so dragging the
 * slider does not queue up work. Measured on a 50 MiB synthetic recording in headless Chromium on
 * two busy cores: indexing 2–6 s in the background, a seek 20 ms median and under 200 ms at worst.
 */
import { EventKind, parseSize, type Asciicast } from './asciicast';
import { KeyframeIndexer } from './indexer';
import { Timeline, firstVisibleOutput, outputCharsBefore } from './timeline';
import { StateStore } from '../state-store';
import { FixedTerminal } from '../terminal/fixed-terminal';

export type PlayerStatus = 'paused' | 'playing' | 'ended';

/** What the page shows; a new object on every change (for useSyncExternalStore). */
export interface PlayerState {
  status: PlayerStatus;
  /** Playback position and length in seconds (on the compressed timeline when skipping idle). */
  position: number;
  duration: number;
  speed: number;
  skipIdle: boolean;
  /** A seek is being carried out. */
  seeking: boolean;
  /** Share of the recording indexed for fast seeking, 0..1. */
  indexed: number;
  /** Marker events ("m"), at their playback times. */
  markers: { time: number; label: string }[];
}

export interface PlayerOptions {
  /** Idle gaps longer than this are compressed to it when skipping idle. Default 2 s. */
  idleLimitSeconds?: number;
  /** Start with idle gaps compressed. Default true. */
  skipIdle?: boolean;
  /** Default 1. */
  speed?: number;
  /** Keyframe spacing in output characters. Default 256 Ki. */
  keyframeChars?: number;
  /** Keyframe spacing in recorded seconds. Default 30. */
  keyframeSeconds?: number;
}

/** The speeds the page offers. */
export const SPEEDS = [0.5, 1, 2, 4, 8] as const;

const DEFAULTS = {
  idleLimitSeconds: 2,
  skipIdle: true,
  speed: 1,
  keyframeChars: 256 * 1024,
  keyframeSeconds: 30,
} as const;

/** While xterm holds this much unparsed output, the playback clock waits. */
const HIGH_WATER_CHARS = 256 * 1024;
/** More output than this due in one frame is reached by a seek instead of written. */
const CATCH_UP_CHARS = 1024 * 1024;
/** Output joined into one write is cut at this length. */
const MAX_WRITE_CHARS = 1024 * 1024;
/** Lines of scrollback in each keyframe. */
const KEYFRAME_SCROLLBACK_LINES = 100;
/** Output characters per write to the indexer's hidden terminal. */
const INDEX_CHUNK_CHARS = 128 * 1024;

export class ReplayPlayer {
  readonly #cast: Asciicast;
  readonly #view: FixedTerminal;
  readonly #indexer: KeyframeIndexer;
  readonly #charsBefore: Float64Array;
  readonly #idleLimit: number;
  #timeline: Timeline;
  readonly #store: StateStore<PlayerState>;

  get #state(): PlayerState {
    return this.#store.get();
  }
  /** Events written to the terminal so far (the next one to write). */
  #next = 0;
  /** Position while paused; while playing, the clock's position at the last frame. */
  #pos = 0;
  /** While playing: position and wall time (ms) the clock counts from. */
  #anchorPos = 0;
  #anchorWall = 0;
  #frame = 0;
  /** The latest seek target not yet started, and the running seek loop. */
  #seekTarget: number | null = null;
  #seekRun: Promise<void> | null = null;
  #disposed = false;

  constructor(container: HTMLElement, cast: Asciicast, options: PlayerOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    this.#cast = cast;
    this.#idleLimit = o.idleLimitSeconds;
    this.#timeline = new Timeline(cast.times, o.skipIdle ? o.idleLimitSeconds : null);
    this.#charsBefore = outputCharsBefore(cast);
    this.#view = new FixedTerminal(container, { cols: cast.header.width, rows: cast.header.height });
    this.#indexer = new KeyframeIndexer(
      cast,
      { maxChars: o.keyframeChars, maxSeconds: o.keyframeSeconds, scrollbackLines: KEYFRAME_SCROLLBACK_LINES, chunkChars: INDEX_CHUNK_CHARS },
      () => this.#onIndexProgress(),
    );
    this.#store = new StateStore<PlayerState>({
      status: 'paused',
      position: 0,
      duration: this.#timeline.duration,
      speed: o.speed,
      skipIdle: o.skipIdle,
      seeking: false,
      indexed: 0,
      markers: this.#markers(),
    });
  }

  /** Starts indexing for fast seek. Separate from the constructor so a throwaway mount costs nothing. */
  start(): void {
    this.#indexer.start();
  }

  getState(): PlayerState {
    return this.#store.get();
  }

  /** Calls `listener` after every state change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    return this.#store.subscribe(listener);
  }

  /** The terminal the recording plays in (tests read its buffer). */
  get terminal(): FixedTerminal['terminal'] {
    return this.#view.terminal;
  }

  /**
   * Playback time of the first output that draws something (0 when there is none): where the page
   * opens the recording, so the screen shows its first frame rather than nothing before Play.
   */
  get firstFrameTime(): number {
    const i = firstVisibleOutput(this.#cast);
    return i < 0 ? 0 : (this.#timeline.times[i] ?? 0);
  }

  /** The recording plays in its recorded size scaled to fit (default), or at actual size (FixedTerminal). */
  setActualSize(on: boolean): void {
    this.#view.setActualSize(on);
  }

  /** Keyframes built so far. */
  get keyframeCount(): number {
    return this.#indexer.keyframeCount;
  }

  play(): void {
    if (this.#disposed || this.#state.status === 'playing') return;
    if (this.#pos >= this.#timeline.duration && this.#next >= this.#cast.length) void this.seek(0);
    this.#anchor();
    this.#set({ status: 'playing' });
    this.#schedule();
  }

  pause(): void {
    if (this.#state.status !== 'playing') return;
    cancelAnimationFrame(this.#frame);
    this.#set({ status: 'paused', position: this.#pos });
  }

  toggle(): void {
    if (this.#state.status === 'playing') this.pause();
    else this.play();
  }

  /** 0.5 to 8. */
  setSpeed(speed: number): void {
    if (!Number.isFinite(speed) || speed <= 0) return;
    this.#anchor();
    this.#set({ speed });
  }

  /** Compress idle gaps to the limit, or play them as recorded. Keeps the place in the recording. */
  setSkipIdle(skipIdle: boolean): void {
    if (skipIdle === this.#state.skipIdle) return;
    const old = this.#timeline;
    const next = new Timeline(this.#cast.times, skipIdle ? this.#idleLimit : null);
    // The same point: as far past the last written event as before (at most the limit when
    // compressing), and not past the next event, which has not been written yet.
    const n = this.#next;
    let since = this.#pos - old.timeOf(n);
    if (skipIdle) since = Math.min(since, this.#idleLimit);
    const upTo = n < this.#cast.length ? (next.times[n] ?? next.duration) : next.duration;
    this.#timeline = next;
    this.#pos = Math.max(0, Math.min(next.timeOf(n) + Math.max(0, since), upTo));
    if (this.#seekTarget !== null) this.#seekTarget = Math.min(this.#seekTarget, next.duration);
    this.#anchor();
    this.#set({ skipIdle, duration: next.duration, position: this.#pos, markers: this.#markers() });
  }

  /**
   * Moves to `seconds` (clamped to the recording) and resolves once the screen shows that point.
   * Playing goes on from there if it was playing. See the module comment.
   */
  seek(seconds: number): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    const t = Math.max(0, Math.min(Number.isFinite(seconds) ? seconds : 0, this.#timeline.duration));
    this.#seekTarget = t;
    this.#pos = t;
    this.#set({ position: t, seeking: true, status: this.#state.status === 'ended' ? 'paused' : this.#state.status });
    this.#seekRun ??= this.#runSeeks().finally(() => {
      this.#seekRun = null;
    });
    return this.#seekRun;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // From here on no state change reaches a listener (as before: #set ignored them once disposed).
    this.#store.close();
    cancelAnimationFrame(this.#frame);
    this.#indexer.dispose();
    this.#view.dispose();
  }

  async #runSeeks(): Promise<void> {
    while (this.#seekTarget !== null && !this.#disposed) {
      const t = this.#seekTarget;
      await this.#indexer.whenIndexed(this.#timeline.countAt(t));
      // A newer target came in while waiting: go there instead.
      if (this.#disposed || this.#seekTarget !== t) continue;
      this.#seekTarget = null;
      // Counted again: "skip idle" may have changed the timeline while waiting.
      this.#goTo(this.#timeline.countAt(t));
      await this.#view.whenWritten();
    }
    if (this.#disposed) return;
    this.#anchor();
    this.#set({ seeking: false, position: this.#pos });
    if (this.#state.status === 'playing') this.#schedule();
  }

  /** Makes the screen show the first `n` events: from where it is, or from a keyframe. */
  #goTo(n: number): void {
    const kf = this.#indexer.keyframeAtOrBefore(n);
    const before = this.#charsBefore;
    const fromHere = this.#next <= n ? (before[n] ?? 0) - (before[this.#next] ?? 0) : Infinity;
    const fromKeyframe = (before[n] ?? 0) - (before[kf.count] ?? 0) + kf.snapshot.length;
    if (fromHere <= fromKeyframe) {
      this.#writeEvents(this.#next, n);
    } else {
      this.#view.write('\x1bc');
      this.#view.resize(kf.cols, kf.rows);
      this.#view.write(kf.snapshot);
      this.#writeEvents(kf.count, n);
    }
    this.#next = n;
  }

  /** Writes events [from, to): output joined into few writes, resizes in their place. */
  #writeEvents(from: number, to: number): void {
    const { kinds, data } = this.#cast;
    let text = '';
    for (let i = from; i < to; i++) {
      const kind = kinds[i];
      if (kind === EventKind.Output) {
        text += data[i] ?? '';
        if (text.length >= MAX_WRITE_CHARS) {
          this.#view.write(text);
          text = '';
        }
      } else if (kind === EventKind.Resize) {
        const size = parseSize(data[i] ?? '');
        if (size === undefined) continue;
        this.#view.write(text);
        text = '';
        this.#view.resize(size.cols, size.rows);
      }
      // Input is not drawn (its echo is in the output); markers are listed by the page.
    }
    this.#view.write(text);
  }

  #tick(): void {
    this.#frame = 0;
    if (this.#disposed || this.#state.status !== 'playing') return;
    if (this.#seekRun !== null) return; // the seek reschedules when done
    const now = performance.now();
    if (this.#view.pendingChars > HIGH_WATER_CHARS) {
      // xterm is behind: hold the clock where it is until it catches up.
      this.#anchor(now);
      this.#schedule();
      return;
    }
    const duration = this.#timeline.duration;
    const pos = Math.min(duration, this.#anchorPos + ((now - this.#anchorWall) * this.#state.speed) / 1000);
    const n = this.#timeline.countAt(pos);
    if (n > this.#next) {
      const due = (this.#charsBefore[n] ?? 0) - (this.#charsBefore[this.#next] ?? 0);
      if (due > CATCH_UP_CHARS) {
        void this.seek(pos);
        return;
      }
      this.#writeEvents(this.#next, n);
      this.#next = n;
    }
    this.#pos = pos;
    if (pos >= duration && this.#next >= this.#cast.length) {
      this.#set({ status: 'ended', position: duration });
      return;
    }
    // A new state (a React render) only when the display would change: 4 times a second.
    if (Math.floor(pos * 4) !== Math.floor(this.#state.position * 4)) this.#set({ position: pos });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#frame === 0 && !this.#disposed) this.#frame = requestAnimationFrame(() => this.#tick());
  }

  /** Restarts the playback clock from the current position. */
  #anchor(now = performance.now()): void {
    this.#anchorPos = this.#pos;
    this.#anchorWall = now;
  }

  #markers(): { time: number; label: string }[] {
    const out: { time: number; label: string }[] = [];
    const { kinds, data, length } = this.#cast;
    for (let i = 0; i < length; i++) if (kinds[i] === EventKind.Marker) out.push({ time: this.#timeline.times[i] ?? 0, label: data[i] ?? '' });
    return out;
  }

  #onIndexProgress(): void {
    const indexed = this.#indexer.progress;
    // Whole percents are enough for a progress display.
    if (indexed === 1 || Math.floor(indexed * 100) !== Math.floor(this.#state.indexed * 100)) this.#set({ indexed });
  }

  #set(patch: Partial<PlayerState>): void {
    this.#store.update(patch);
  }
}
