/**
 * Writes each device's presence (connected here or not) to the store: one write at a time per
 * device, so its writes reach the store in the order its changes happened even when the store runs
 * queries on several connections, and only the latest state. While one write of a device is on its
 * way, its later changes wait, and all but the last of them are dropped: a node whose store is slow
 * (a connect storm) does not write "connected" for a channel it already knows has gone — a write
 * that could land after another node's, for the device's new channel, and have the disconnection
 * that follows it clear the record. It also bounds what waits: one state per device.
 */
export interface PresenceState {
  online: boolean;
  /** When the change happened (ms since the epoch). */
  at: number;
}

export type PresenceWrite = (deviceId: string, state: PresenceState) => Promise<void>;
export type PresenceFailure = (deviceId: string, state: PresenceState, err: unknown) => void;

export class PresenceWriter {
  readonly #write: PresenceWrite;
  readonly #failed: PresenceFailure;
  /** The latest state of each device not yet handed to a write. */
  readonly #waiting = new Map<string, PresenceState>();
  /** Each device whose writes are under way: settles once nothing of it is waiting. */
  readonly #running = new Map<string, Promise<void>>();

  constructor(write: PresenceWrite, failed: PresenceFailure) {
    this.#write = write;
    this.#failed = failed;
  }

  /** The device is now online (or not) on this node. */
  changed(deviceId: string, online: boolean, at: number): void {
    this.#waiting.set(deviceId, { online, at });
    if (!this.#running.has(deviceId)) this.#running.set(deviceId, this.#drain(deviceId));
  }

  async #drain(deviceId: string): Promise<void> {
    // Past the caller's turn: #running holds this promise before the first write starts.
    await Promise.resolve();
    try {
      for (let state = this.#waiting.get(deviceId); state !== undefined; state = this.#waiting.get(deviceId)) {
        this.#waiting.delete(deviceId);
        try {
          await this.#write(deviceId, state);
        } catch (err) {
          this.#failed(deviceId, state, err);
        }
      }
    } finally {
      this.#running.delete(deviceId);
    }
  }

  /** Resolves once the device's state, as changed so far, is written (or its write failed). */
  settled(deviceId: string): Promise<void> {
    return this.#running.get(deviceId) ?? Promise.resolve();
  }

  /** Resolves once every device's writes have settled. */
  async drained(): Promise<void> {
    await Promise.all([...this.#running.values()]);
  }

  /** Devices with a write under way or waiting. */
  get size(): number {
    return this.#running.size;
  }
}
