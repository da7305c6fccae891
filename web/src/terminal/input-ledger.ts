/**
 * The keystrokes of one resumable terminal session, counted so that each reaches the shell exactly
 * once across reconnects (see shared/terminal-protocol.ts, version 2). Pure: no sockets, no xterm.
 *
 * While a connection takes input, keystrokes go out at once, and the most recent ones are kept
 * (up to `limit` bytes) in case the connection drops before the shell server read them. While
 * there is no connection (reconnecting), keystrokes wait in a queue (up to `limit` bytes; beyond
 * that they are refused, and the page says so). When a connection is back the shell server says
 * how much input it received in all: the kept bytes after that are sent again, then the queue.
 * Nothing is ever sent twice; what can no longer be sent (dropped from the kept window, or refused)
 * is counted so the page can show it.
 */

/** Kept and queued input, each: typing is small, a paste can be large. */
export const INPUT_LIMIT_BYTES = 256 * 1024;

export interface Opened {
  /** Bytes to send now, in order (resent input first, then what was typed meanwhile). */
  send: Uint8Array[];
  /** Input that had been sent but did not reach the shell and was no longer kept. */
  lost: number;
}

export class InputLedger {
  readonly #limit: number;
  /** Session offset of the next byte handed to a connection. */
  #sent = 0;
  /** The last bytes handed to connections, [keptStart, sent). */
  #kept: Uint8Array[] = [];
  #keptBytes = 0;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #open = false;
  /** No connection of this session has taken input from this page yet (a reload or another tab). */
  #fresh = true;

  constructor(limit = INPUT_LIMIT_BYTES) {
    this.#limit = limit;
  }

  /** Whether input goes out at once now. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Input handed to connections so far (the offset an attach HELLO names). */
  get sent(): number {
    return this.#sent;
  }

  /** Bytes waiting for a connection. */
  get queued(): number {
    return this.#queuedBytes;
  }

  /**
   * Keystrokes typed: `send` is what goes out now (null while there is no connection: they wait),
   * `refused` is how many bytes were not taken because the queue is full.
   */
  type(bytes: Uint8Array): { send: Uint8Array | null; refused: number } {
    if (bytes.length === 0) return { send: null, refused: 0 };
    if (this.#open) {
      this.#keep(bytes);
      return { send: bytes, refused: 0 };
    }
    if (this.#queuedBytes + bytes.length > this.#limit) return { send: null, refused: bytes.length };
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    return { send: null, refused: 0 };
  }

  /**
   * A connection takes input from now on. `received`: what the shell server says it received in all
   * (after an attach); undefined for a new session, whose count starts with this connection.
   */
  open(received?: number): Opened {
    const send: Uint8Array[] = [];
    let lost = 0;
    if (received !== undefined) {
      const keptStart = this.#sent - this.#keptBytes;
      if (this.#fresh || received >= this.#sent) {
        // A reloaded page never sent anything of this session; or another page sent more since
        // (it took the session over meanwhile): the server's count is where this page goes on.
        this.#sent = received;
        this.#kept = [];
        this.#keptBytes = 0;
      } else {
        if (received < keptStart) lost = keptStart - received;
        let skip = Math.max(0, received - keptStart);
        for (const k of this.#kept) {
          if (skip >= k.length) {
            skip -= k.length;
            continue;
          }
          send.push(skip > 0 ? k.subarray(skip) : k);
          skip = 0;
        }
      }
    }
    this.#fresh = false;
    this.#open = true;
    for (const q of this.#queue) {
      this.#keep(q);
      send.push(q);
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    return { send, lost };
  }

  /** The connection is gone: input waits until the next `open`. */
  close(): void {
    this.#open = false;
  }

  #keep(bytes: Uint8Array): void {
    this.#sent += bytes.length;
    this.#kept.push(bytes);
    this.#keptBytes += bytes.length;
    while (this.#keptBytes - (this.#kept[0]?.length ?? 0) >= this.#limit && this.#kept.length > 1) {
      this.#keptBytes -= this.#kept.shift()?.length ?? 0;
    }
  }
}
