/**
 * Builds the seek keyframes of a recording (see player.ts for the design). A hidden xterm
 * Terminal — never opened, so it has no renderer and no DOM — is fed the whole recording once, in
 * chunks, each written only when the previous one has been parsed (its write callback). At each
 * planned point (timeline.ts, planKeyframes) the callback snapshots the screen (screen-snapshot.ts)
 * before the next chunk goes in, so the snapshot is the exact state after those events. xterm
 * parses in time slices and yields to the page between them, so indexing never freezes the UI.
 */
import { Terminal } from '@xterm/xterm';
import { EventKind, parseSize, type Asciicast } from './asciicast';
import { ScreenStateTracker, serializeScreen } from './screen-snapshot';
import { planKeyframes, lastAtOrBefore, type KeyframePolicy } from './timeline';

/** The screen after the first `count` events. */
export interface Keyframe {
  count: number;
  cols: number;
  rows: number;
  /** Written into a reset terminal of cols × rows, it shows that screen. */
  snapshot: string;
}

export interface IndexerOptions extends KeyframePolicy {
  /** Scrollback lines kept in each keyframe. */
  scrollbackLines: number;
  /** Most output characters in one write to the hidden terminal. */
  chunkChars: number;
}

export class KeyframeIndexer {
  readonly #cast: Asciicast;
  readonly #options: IndexerOptions;
  readonly #points: number[];
  readonly #counts: number[] = [0];
  readonly #keyframes: Keyframe[];
  readonly #terminal: Terminal;
  readonly #tracker: ScreenStateTracker;
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  readonly #onProgress: () => void;
  /** Events fed to the hidden terminal and parsed. */
  #done = 0;
  /** Position in #points of the next keyframe to take. */
  #nextPoint = 0;
  #started = false;
  #finished = false;
  #disposed = false;

  constructor(cast: Asciicast, options: IndexerOptions, onProgress: () => void) {
    this.#cast = cast;
    this.#options = options;
    this.#onProgress = onProgress;
    this.#points = planKeyframes(cast, options);
    this.#keyframes = [{ count: 0, cols: cast.header.width, rows: cast.header.height, snapshot: '' }];
    this.#terminal = new Terminal({ cols: cast.header.width, rows: cast.header.height, scrollback: options.scrollbackLines, allowProposedApi: false });
    this.#tracker = new ScreenStateTracker(this.#terminal);
  }

  /** Starts feeding the hidden terminal (once). */
  start(): void {
    if (this.#started || this.#disposed) return;
    this.#started = true;
    this.#feed();
  }

  /** Share of the recording indexed, 0..1. */
  get progress(): number {
    return this.#cast.length === 0 ? 1 : this.#done / this.#cast.length;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Keyframes taken so far. */
  get keyframeCount(): number {
    return this.#keyframes.length;
  }

  /** The latest keyframe at or before `count` events (the empty screen at worst). */
  keyframeAtOrBefore(count: number): Keyframe {
    const i = lastAtOrBefore(this.#counts, count);
    return this.#keyframes[Math.max(0, i)] as Keyframe;
  }

  /** Resolves once the first `count` events are indexed (or indexing ended or was disposed). */
  whenIndexed(count: number): Promise<void> {
    if (this.#done >= count || this.#finished || this.#disposed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#finished) {
      this.#tracker.dispose();
      this.#terminal.dispose();
    }
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  /** Writes the next chunk: up to the next keyframe point, a resize, or chunkChars of output. */
  #feed(): void {
    if (this.#disposed) return;
    const { kinds, data, length } = this.#cast;
    const stop = this.#points[this.#nextPoint] ?? length;
    let i = this.#done;
    let text = '';
    while (i < stop && text.length < this.#options.chunkChars) {
      const kind = kinds[i];
      if (kind === EventKind.Output) text += data[i] ?? '';
      else if (kind === EventKind.Resize) {
        // Only between writes (nothing is queued now, or text would be non-empty).
        if (text !== '') break;
        const size = parseSize(data[i] ?? '');
        if (size !== undefined) this.#terminal.resize(size.cols, size.rows);
      }
      i++;
    }
    const end = i;
    this.#terminal.write(text, () => this.#afterWrite(end));
  }

  #afterWrite(end: number): void {
    if (this.#disposed) return;
    this.#done = end;
    if (end === this.#points[this.#nextPoint]) {
      this.#keyframes.push({
        count: end,
        cols: this.#terminal.cols,
        rows: this.#terminal.rows,
        snapshot: serializeScreen(this.#terminal, this.#tracker, { scrollbackLines: this.#options.scrollbackLines }),
      });
      this.#counts.push(end);
      this.#nextPoint++;
    }
    if (end >= this.#cast.length) {
      this.#finished = true;
      // The recording is indexed; the hidden terminal's memory is not needed any more. Disposed
      // after this callback returns, not inside xterm's write loop.
      setTimeout(() => {
        this.#tracker.dispose();
        this.#terminal.dispose();
      }, 0);
    }
    for (let k = this.#waiters.length - 1; k >= 0; k--) {
      const w = this.#waiters[k] as { count: number; resolve: () => void };
      if (this.#finished || this.#done >= w.count) {
        this.#waiters.splice(k, 1);
        w.resolve();
      }
    }
    this.#onProgress();
    if (!this.#finished) this.#feed();
  }
}
