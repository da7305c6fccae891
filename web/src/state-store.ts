/**
 * The state of a plain class (a terminal session, a player) as React reads it through
 * useSyncExternalStore: one immutable value, replaced on every change, and its listeners.
 */
export class StateStore<S extends object> {
  #state: S;
  readonly #listeners = new Set<() => void>();
  #closed = false;

  constructor(initial: S) {
    this.#state = initial;
  }

  /** The current state; the same object until something changes. */
  get(): S {
    return this.#state;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(next: S): void {
    if (this.#closed) return;
    this.#state = next;
    for (const l of this.#listeners) l();
  }

  update(patch: Partial<S>): void {
    this.set({ ...this.#state, ...patch });
  }

  /** Drops every listener; later changes are ignored (the owner was disposed). */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
  }
}
