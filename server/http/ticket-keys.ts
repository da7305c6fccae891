/**
 * TLS session-ticket keys shared by every node of a deployment, so that a client resumes its TLS
 * session on whichever node the balancer picks, and a hub restarted on its data directory still
 * resumes the sessions of the devices that reconnect to it: a resumed handshake skips the
 * certificate and its verification. Node's default is a random key per process, kept in memory,
 * so each node change or restart cost every client a full handshake.
 *
 * The key is random, one per hour (its window), made by the first node that needs it and kept in
 * the store beside the stream-token key; every node switches at the hour, and the keys of earlier
 * hours are deleted from the store as each new one is taken. Node's TLS server holds one key at a
 * time: a ticket issued just before the hour does not resume after it (a ticket lives 5 minutes,
 * Node's default `sessionTimeout`), which costs that client one full handshake.
 *
 * What this trades: whoever reads a key from the store (or from its WAL, a replica or a backup made
 * in that hour) can open that hour's tickets. For a TLS 1.2 session that is its master secret, so a
 * recording of its traffic could be decrypted; TLS 1.3 resumption (every Node client, the SDKs and
 * the agent) mixes in a fresh key exchange, so there it only lets an attacker pose as the hub to a
 * client resuming within the ticket's life. The store already holds every device's and policy's key:
 * it and its backups are to be kept as private as the TLS private key (README: Run a cluster).
 */
import type { Server as TlsServer } from 'node:tls';
import type { SecretRepository } from '../store/store.js';

/** How long one ticket key is used. */
export const TICKET_KEY_PERIOD_MS = 60 * 60_000;
/** Node's ticket keys: a 16-byte name, a 16-byte HMAC key and a 16-byte AES key. */
const TICKET_KEY_BYTES = 48;
/** How soon a key the store could not give is asked for again. */
const RETRY_MS = 30_000;
const TICKET_KEY_PREFIX = 'tls-ticket.';

/**
 * Sessions resume across processes only within one session-id context; Node's default is a hash
 * of the process's own command line, which differs from node to node and from one start to the
 * next. Clients are not asked for certificates, so every node may share one.
 */
export const SESSION_ID_CONTEXT = 'devicestreams';

export const ticketKeyName = (window: number): string => `${TICKET_KEY_PREFIX}${window}`;

export interface TicketKeysOptions {
  server: Pick<TlsServer, 'setTicketKeys'>;
  secrets: SecretRepository;
  log: (line: string) => void;
  now?: () => number;
}

export class TicketKeys {
  readonly #o: TicketKeysOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #window: number | undefined;
  #failing = false;
  #stopped = false;

  constructor(o: TicketKeysOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** The window whose key the server holds (undefined until the store first gave one). */
  get window(): number | undefined {
    return this.#window;
  }

  /** Takes the current window's key, then switches at each hour until stopped. */
  async start(): Promise<void> {
    await this.rotate();
  }

  /** Takes the key of the window the clock is in now, if the server does not hold it yet. */
  async rotate(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#now();
    const window = Math.floor(now / TICKET_KEY_PERIOD_MS);
    let wait = (window + 1) * TICKET_KEY_PERIOD_MS - now;
    if (window !== this.#window) {
      try {
        const key = await this.#o.secrets.getOrCreate(ticketKeyName(window), TICKET_KEY_BYTES);
        if (this.#stopped) return;
        if (key.length !== TICKET_KEY_BYTES) throw new Error(`the store's ticket key is ${key.length} bytes, not ${TICKET_KEY_BYTES}`);
        this.#o.server.setTicketKeys(key);
        this.#window = window;
        if (this.#failing) this.#o.log('TLS ticket key: taken from the store again');
        this.#failing = false;
      } catch (err) {
        // The key in use stays; sessions still resume on this node, if not across nodes.
        if (!this.#failing) this.#o.log(`TLS ticket key: could not take this hour's from the store (retrying every ${RETRY_MS / 1000} s): ${String(err)}`);
        this.#failing = true;
        wait = Math.min(wait, RETRY_MS);
      }
      if (this.#window === window) {
        // Only earlier hours' keys (a node whose clock is a little behind must not delete the
        // others' new one); when the store cannot do it now, it is done at the next hour.
        await this.#o.secrets.removeNumberedBefore(TICKET_KEY_PREFIX, window).catch((err: unknown) => {
          this.#o.log(`TLS ticket key: could not delete the earlier ones from the store: ${String(err)}`);
        });
      }
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.rotate(), wait);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
