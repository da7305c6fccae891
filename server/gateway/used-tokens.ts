/**
 * Remembers token ids (and ended streams) until they expire, so a token works once and a stream
 * is single-use. Bounded: entries leave when their expiry passes; past `max` live entries new
 * ones are refused rather than letting memory grow.
 */
export class ExpiringSet {
  readonly #entries = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  #sweep(nowMs: number): void {
    for (const [k, exp] of this.#entries) if (exp <= nowMs) this.#entries.delete(k);
  }

  has(key: string, nowMs = Date.now()): boolean {
    const exp = this.#entries.get(key);
    return exp !== undefined && exp > nowMs;
  }

  /** Adds `key` until `expMs`; false if it was already there, or the set is full of live entries. */
  add(key: string, expMs: number, nowMs = Date.now()): boolean {
    if (this.has(key, nowMs)) return false;
    if (this.#entries.size >= this.#max) {
      this.#sweep(nowMs);
      if (this.#entries.size >= this.#max) return false;
    }
    this.#entries.set(key, expMs);
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }
}
