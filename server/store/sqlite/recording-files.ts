/**
 * Recording content of the embedded store: one asciicast file per session under
 * `<data-dir>/recordings/<day>/<stream id>.cast` (directories 0700, files 0600), appended as the
 * session runs.
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RecordingData, RecordingSink } from '../store.js';
import { recordingFile } from './recordings.js';

/** A recording sink that appends to a new file (0600; its directory made 0700), or to an existing one. */
export class FileSink implements RecordingSink {
  readonly #out: WriteStream;
  #failed = false;

  constructor(path: string, existing = false) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#out = createWriteStream(path, { flags: existing ? 'a' : 'wx', mode: 0o600 });
    this.#out.on('error', () => {
      this.#failed = true;
    });
  }

  write(chunk: Buffer): void {
    if (!this.#failed) this.#out.write(chunk);
  }

  get pending(): number {
    return this.#out.writableLength;
  }

  get failed(): boolean {
    return this.#failed;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#out.closed || this.#out.destroyed) {
        resolve();
        return;
      }
      this.#out.end(() => resolve());
      this.#out.once('error', () => resolve());
    });
  }
}

export class RecordingFiles implements RecordingData {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  #path(streamId: string, startedAt: number): string {
    return join(this.#dataDir, recordingFile(streamId, startedAt));
  }

  create(streamId: string, startedAt: number): RecordingSink {
    return new FileSink(this.#path(streamId, startedAt));
  }

  append(streamId: string, startedAt: number): RecordingSink {
    return new FileSink(this.#path(streamId, startedAt), true);
  }

  read(streamId: string, startedAt: number): Promise<Readable | undefined> {
    return new Promise((resolve) => {
      const file = createReadStream(this.#path(streamId, startedAt));
      file.once('open', () => resolve(file));
      file.once('error', () => resolve(undefined));
    });
  }

  async size(streamId: string, startedAt: number): Promise<number> {
    try {
      return statSync(this.#path(streamId, startedAt)).size;
    } catch {
      return 0;
    }
  }

  async delete(streamId: string, startedAt: number): Promise<void> {
    rmSync(this.#path(streamId, startedAt), { force: true });
  }
}
