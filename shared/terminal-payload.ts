/**
 * The field codec of terminal frames (browser-safe): payloads built and read field by field,
 * big-endian, every overrun a TerminalProtocolError naming the frame. The frames themselves are in
 * terminal-protocol.ts.
 */

/** A frame that cannot be decoded; the stream is closed with this message. */
export class TerminalProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TerminalProtocolError';
  }
}

/** UTF-8 of `text`, at most `max` bytes, cut on a character boundary. */
export function utf8Within(text: string, max: number): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return bytes;
  let n = max;
  while (n > 0 && ((bytes[n] ?? 0) & 0xc0) === 0x80) n--;
  return bytes.subarray(0, n);
}

/** Builds a payload field by field (big-endian); every frame but DATA is small. */
export class PayloadWriter {
  readonly #parts: Uint8Array[] = [];
  #size = 0;

  #put(n: number, fill: (v: DataView) => void): this {
    const p = new Uint8Array(n);
    fill(new DataView(p.buffer));
    return this.bytes(p);
  }

  u8(v: number): this {
    return this.#put(1, (d) => d.setUint8(0, v));
  }

  u16(v: number): this {
    return this.#put(2, (d) => d.setUint16(0, v));
  }

  u32(v: number): this {
    return this.#put(4, (d) => d.setUint32(0, v));
  }

  /** A whole number up to 2^53 - 1 as u64 (offsets: JavaScript numbers stay exact below 2^53). */
  u64(v: number, what: string): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new TerminalProtocolError(`${what} ${v} is out of range`);
    return this.#put(8, (d) => {
      d.setUint32(0, Math.floor(v / 2 ** 32));
      d.setUint32(4, v >>> 0);
    });
  }

  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    this.#size += b.length;
    return this;
  }

  done(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Reads a payload field by field; running past its end is a protocol error naming the frame. */
export class PayloadReader {
  readonly #p: Uint8Array;
  readonly #v: DataView;
  readonly #what: string;
  #off = 0;

  constructor(p: Uint8Array, what: string) {
    this.#p = p;
    this.#v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    this.#what = what;
  }

  #need(n: number): number {
    if (this.#off + n > this.#p.length) throw new TerminalProtocolError(`${this.#what} payload is too short`);
    const at = this.#off;
    this.#off += n;
    return at;
  }

  u8(): number {
    return this.#v.getUint8(this.#need(1));
  }

  u16(): number {
    return this.#v.getUint16(this.#need(2));
  }

  u32(): number {
    return this.#v.getUint32(this.#need(4));
  }

  u64(): number {
    const at = this.#need(8);
    const high = this.#v.getUint32(at);
    if (high >= 2 ** 21) throw new TerminalProtocolError(`${this.#what} carries an offset beyond 2^53`);
    return high * 2 ** 32 + this.#v.getUint32(at + 4);
  }

  bytes(n: number): Uint8Array {
    const at = this.#need(n);
    return this.#p.subarray(at, at + n);
  }

  get left(): number {
    return this.#p.length - this.#off;
  }

  /** Nothing may follow the last field. */
  end(): void {
    if (this.left !== 0) throw new TerminalProtocolError(`${this.#what} payload is too long`);
  }
}
