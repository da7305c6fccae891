/**
 * The sending half of a resumable stream's bookkeeping (node-only): every byte written is counted,
 * and kept until the other side acknowledges it, so that after a lost leg the bytes it did not get
 * can be sent again. Offsets count bytes from the start of the stream in this direction.
 */
export type TrimResult =
  /** The other side claims more than was ever sent: a protocol error. */
  | 'beyond'
  /** Nothing new: at or behind what it had already confirmed. */
  | 'known'
  /** The confirmed bytes were dropped. */
  | 'trimmed';

export class ResendBuffer {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #sent = 0;
  #acked = 0;

  /** Bytes written so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Bytes kept (written and not yet confirmed). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Counts a chunk as written; keeps it for a resend unless `keep` is false (a v1 peer). */
  add(chunk: Buffer, keep: boolean): void {
    this.#sent += chunk.length;
    if (!keep) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** The other side has everything up to `offset`. */
  trim(offset: number): TrimResult {
    if (offset > this.#sent) return 'beyond';
    if (offset <= this.#acked) return 'known';
    let drop = offset - this.#acked;
    this.#acked = offset;
    while (drop > 0 && this.#chunks.length > 0) {
      const head = this.#chunks[0] as Buffer;
      if (head.length <= drop) {
        this.#chunks.shift();
        this.#bytes -= head.length;
        drop -= head.length;
      } else {
        this.#chunks[0] = head.subarray(drop);
        this.#bytes -= drop;
        drop = 0;
      }
    }
    return 'trimmed';
  }

  /** What the other side has not confirmed, as one buffer (to send again on a new leg). */
  rest(): Buffer {
    return Buffer.concat(this.#chunks, this.#bytes);
  }

  /** Forgets what is kept (nothing will be sent again). */
  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }
}
