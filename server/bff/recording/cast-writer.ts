/**
 * Writes one terminal session as an asciicast v2 file, event by event as it happens (nothing is
 * held beyond a small write buffer): a header line, then `[t, "o", text]` output, `[t, "i", text]`
 * input (only when asked), `[t, "r", "COLSxROWS"]` resizes and `[t, "m", label]` markers. Output
 * bytes are decoded as streaming UTF-8, so a character split across frames is written whole.
 * Past the size budget it writes a truncation marker and stops; the session is not affected.
 * A resumed terminal session goes on in the same file: a writer made with `continueFrom` appends
 * after what is there (no second header) under the same budget.
 */
import type { RecordingSink } from '../../store/store.js';

export interface CastHeader {
  cols: number;
  rows: number;
  /** Unix seconds. */
  timestamp: number;
  title: string;
  term: string;
}

/** Write buffer bound: a disk slower than the terminal stops the recording, not the session. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
export const TRUNCATION_MARKER = 'recording truncated: size budget reached';

/** Where an existing recording stands, for a writer that continues it. */
export interface CastContinuation {
  /** Bytes it holds. */
  size: number;
  /** It already reached its budget. */
  truncated: boolean;
  /** Time of its last event, ms after the start. */
  lastEventMs: number;
}

export class CastWriter {
  readonly #out: RecordingSink;
  readonly #start: number;
  readonly #budget: number;
  readonly #decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  #size = 0;
  #stopped = false;
  truncated = false;
  lastEventMs = 0;

  /**
   * Writes into `sink` (a file, or rows of the cluster store) from the header on; with
   * `continueFrom`, after an existing recording (the sink appends to it; `header` is not written).
   */
  constructor(sink: RecordingSink, header: CastHeader, budgetBytes: number, startMs = Date.now(), continueFrom?: CastContinuation) {
    this.#out = sink;
    this.#start = startMs;
    this.#budget = budgetBytes;
    if (continueFrom !== undefined) {
      this.#size = continueFrom.size;
      this.lastEventMs = continueFrom.lastEventMs;
      this.truncated = continueFrom.truncated;
      this.#stopped = continueFrom.truncated;
      return;
    }
    this.#line(
      JSON.stringify({
        version: 2,
        width: header.cols,
        height: header.rows,
        timestamp: header.timestamp,
        title: header.title,
        env: { TERM: header.term, SHELL: '' },
      }),
    );
  }

  /** Bytes written (or queued) so far. */
  get size(): number {
    return this.#size;
  }

  #line(text: string): void {
    const line = Buffer.from(`${text}\n`, 'utf8');
    this.#size += line.length;
    this.#out.write(line);
  }

  #event(code: string, data: string, nowMs: number): void {
    if (this.#stopped || this.#out.failed) return;
    const t = Math.max(0, nowMs - this.#start) / 1000;
    const line = JSON.stringify([Number(t.toFixed(6)), code, data]);
    if (this.#size + Buffer.byteLength(line) + 1 > this.#budget || this.#out.pending > MAX_PENDING_BYTES) {
      this.#stopped = true;
      this.truncated = true;
      this.#line(JSON.stringify([Number(t.toFixed(6)), 'm', TRUNCATION_MARKER]));
      return;
    }
    this.lastEventMs = nowMs - this.#start;
    this.#line(line);
  }

  output(bytes: Uint8Array, nowMs = Date.now()): void {
    const text = this.#decoders.o.decode(bytes, { stream: true });
    if (text !== '') this.#event('o', text, nowMs);
  }

  input(bytes: Uint8Array, nowMs = Date.now()): void {
    const text = this.#decoders.i.decode(bytes, { stream: true });
    if (text !== '') this.#event('i', text, nowMs);
  }

  resize(cols: number, rows: number, nowMs = Date.now()): void {
    this.#event('r', `${cols}x${rows}`, nowMs);
  }

  marker(label: string, nowMs = Date.now()): void {
    this.#event('m', label, nowMs);
  }

  /** Flushes and closes the recording; resolves when it is durable. */
  close(): Promise<void> {
    const tail = this.#decoders.o.decode();
    if (tail !== '') this.#event('o', tail, Date.now());
    this.#stopped = true;
    return this.#out.close();
  }
}
