/**
 * The recent output of a resumable session, kept for the replay after a reattach: the last
 * `capacity` bytes its PTY produced, addressed by offset (bytes produced since the session
 * started). Bounded by `capacity`; older output falls off the front, and a client asking for it
 * gets a gap instead.
 *
 * A PTY read is often a byte or two (keystroke echoes). Kept one Buffer per read, a megabyte of
 * those would be a million objects; so reads under SMALL_READ are copied into shared blocks, and a
 * megabyte is at most a few hundred Buffers whatever the reads were.
 */

/** Reads smaller than this are copied into a shared block rather than kept as they are. */
const SMALL_READ = 4 * 1024;
const BLOCK = 16 * 1024;
/** Smallest capacity: several blocks, so the open block is never the one being trimmed. */
export const MIN_RING_BYTES = 64 * 1024;

export class OutputRing {
  readonly #capacity: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #end = 0;
  /** The block small reads are copied into; it is also the last element of #chunks (a view of its used part). */
  #block: Buffer | undefined;
  #blockUsed = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < MIN_RING_BYTES) throw new RangeError(`an output ring holds at least ${MIN_RING_BYTES} bytes`);
    this.#capacity = capacity;
  }

  /** Offset of the oldest byte kept. */
  get start(): number {
    return this.#end - this.#size;
  }

  /** Offset after the newest byte: all the output there has been. */
  get end(): number {
    return this.#end;
  }

  /** Bytes held now (at most the capacity). */
  get size(): number {
    return this.#size;
  }

  append(data: Buffer): void {
    const n = data.length;
    if (n === 0) return;
    this.#end += n;
    if (n >= this.#capacity) {
      this.#chunks = [Buffer.from(data.subarray(n - this.#capacity))];
      this.#size = this.#capacity;
      this.#block = undefined;
      return;
    }
    if (n < SMALL_READ) {
      if (this.#block === undefined || this.#blockUsed + n > BLOCK) {
        this.#block = Buffer.allocUnsafe(BLOCK);
        this.#blockUsed = 0;
        this.#chunks.push(this.#block.subarray(0, 0));
      }
      data.copy(this.#block, this.#blockUsed);
      this.#blockUsed += n;
      this.#chunks[this.#chunks.length - 1] = this.#block.subarray(0, this.#blockUsed);
    } else {
      // Large reads are Buffers of their own from the PTY's socket; nobody writes into them again.
      this.#block = undefined;
      this.#chunks.push(data);
    }
    this.#size += n;
    while (this.#size > this.#capacity) {
      const first = this.#chunks[0] as Buffer;
      const excess = this.#size - this.#capacity;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }

  /**
   * The output from `offset` to the end, as views (valid until more is appended; a caller that
   * writes them to a socket at once is fine: bytes already written are never changed). Offsets
   * before `start` give what is left from `start`.
   */
  since(offset: number): Buffer[] {
    let skip = Math.max(0, offset - this.start);
    const out: Buffer[] = [];
    for (const c of this.#chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      out.push(skip > 0 ? c.subarray(skip) : c);
      skip = 0;
    }
    return out;
  }
}
