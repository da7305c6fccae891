/**
 * Runs async tasks one after another per key, in the order they were given, so two writes about
 * the same thing (a device's connect and disconnect) reach the store in the order they happened
 * even when the store runs queries on several connections. Bounded by the keys with work queued.
 */
export class SerialQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` after every earlier task of `key`; resolves or rejects with it. */
  run(key: string, task: () => Promise<unknown>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      await task();
    });
    // The chain continues whatever this task does; its own caller sees its failure.
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }

  /** Resolves once every task of `key` given so far has settled. */
  settled(key: string): Promise<void> {
    return this.#tails.get(key) ?? Promise.resolve();
  }

  /** Resolves once every task given so far, of every key, has settled. */
  async drained(): Promise<void> {
    await Promise.all([...this.#tails.values()]);
  }

  /** Keys with work queued. */
  get size(): number {
    return this.#tails.size;
  }
}
