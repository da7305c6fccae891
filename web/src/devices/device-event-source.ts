/**
 * The fleet's live changes (`GET /api/fleet/events`) over one EventSource: batches of changed
 * devices, a resync after every reconnect (changes made while it was away were not seen), and a
 * state the page shows. The browser reconnects by itself after a dropped connection; after the
 * server refused or ended the stream it stays off until `connect()` is called again.
 */
import type { DeviceEventBatch, DeviceEventsEnd } from '../../../shared/console-api';
import { parseDeviceEventBatch, parseDeviceEventsEnd } from './device-list';

export type LiveState =
  /** Opening, or reconnecting after the connection dropped. */
  | { phase: 'connecting' }
  | { phase: 'live' }
  /** Refused or ended by the server; `message` says why, for the person at the screen. */
  | { phase: 'off'; message: string };

export interface DeviceEventSourceOptions {
  onBatch: (batch: DeviceEventBatch) => void;
  /** The stream came back after a gap: read again whatever is shown. */
  onResync: () => void;
  onState: (state: LiveState) => void;
  /** The server refused or ended the stream (the session may be over). */
  onStopped: (end: DeviceEventsEnd | undefined) => void;
}

const URL_PATH = '/api/fleet/events';

export class DeviceEventSource {
  readonly #o: DeviceEventSourceOptions;
  #source: EventSource | undefined;
  /** Whether a stream has been open before: every later open is a resync. */
  #wasOpen = false;

  constructor(options: DeviceEventSourceOptions) {
    this.#o = options;
  }

  connect(): void {
    this.#source?.close();
    const source = new EventSource(URL_PATH);
    this.#source = source;
    this.#o.onState({ phase: 'connecting' });
    source.addEventListener('open', () => {
      if (this.#wasOpen) this.#o.onResync();
      this.#wasOpen = true;
      this.#o.onState({ phase: 'live' });
    });
    source.addEventListener('changed', (ev: MessageEvent<string>) => {
      const batch = parseDeviceEventBatch(ev.data);
      if (batch !== undefined) this.#o.onBatch(batch);
    });
    source.addEventListener('end', (ev: MessageEvent<string>) => {
      source.close();
      const end = parseDeviceEventsEnd(ev.data);
      this.#o.onState({ phase: 'off', message: end?.message ?? 'The console ended the live updates.' });
      this.#o.onStopped(end);
    });
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) {
        this.#o.onState({ phase: 'connecting' });
        return;
      }
      // An answer other than an event stream (401 after the session ended, 429 with too many
      // tabs open, 503): EventSource gives up and does not say which.
      this.#o.onState({ phase: 'off', message: 'The console did not accept live updates for this page (your session may have ended, or too many of your pages have them open).' });
      this.#o.onStopped(undefined);
    });
  }

  /** Whether a stream is open or being opened (false after close(), and after the server refused or ended it). */
  get isOpen(): boolean {
    return this.#source !== undefined && this.#source.readyState !== EventSource.CLOSED;
  }

  /** Lets the stream go; `connect()` opens it again (and then asks for a resync). */
  close(): void {
    this.#source?.close();
    this.#source = undefined;
  }
}
