/**
 * The client half of the file protocol (shared/file-protocol.ts) that any initiator uses on a
 * stream to the device's file server: `devicestreams cp` (cli/file-copy.ts) and the console's
 * file routes (server/bff/file-routes.ts). Reading answers, counting bytes, and knowing whether the
 * device side can half-close (an upload ends with end of input).
 */
import { Transform, type Duplex } from 'node:stream';
import { FILE_ERROR_HINTS, HeaderError, decodeResponse, readHeaderLine, type FileErrorCode, type FileResponse } from '../../shared/file-protocol.js';
import { ResumableStream } from '../../shared/resumable-stream.js';

/** The device's file server refused or failed a transfer; `message` is one line with what to do. */
export class FileTransferError extends Error {
  constructor(readonly code: FileErrorCode | 'protocol', message: string) {
    super(message);
  }
}

/** Chunk size of the pipes (a file is read and written a MiB at a time at most). */
export const FILE_CHUNK_BYTES = 1024 * 1024;
/** What it means when the device side closes without any answer. */
export const NO_ANSWER = 'the device\'s service closed the stream without an answer; is the stream mapped to "devicestreams file-server" on the agent?';

/** The next response; `lost` says what it means when the stream ends before one arrives. Throws FileTransferError. */
export async function readResponse(stream: Duplex, lost: string): Promise<FileResponse> {
  let line: string;
  try {
    line = await readHeaderLine(stream);
  } catch (err) {
    if (err instanceof HeaderError) throw new FileTransferError('protocol', lost);
    throw err;
  }
  const r = decodeResponse(line);
  if (r === undefined) throw new FileTransferError('protocol', 'the device\'s service does not speak the file protocol; map the stream to "devicestreams file-server" on the agent');
  if (r.type === 'error') throw new FileTransferError(r.code, `${r.message}; ${FILE_ERROR_HINTS[r.code]}`);
  return r;
}

/** Whether the device side can half-close (stream protocol v2), once the stream knows. */
export function peerHalfCloses(stream: Duplex): Promise<boolean> {
  if (!(stream instanceof ResumableStream)) return Promise.resolve(false);
  const known = stream.peerV2;
  if (known !== undefined) return Promise.resolve(known);
  return new Promise((resolve) => stream.once('peer', (v2: boolean) => resolve(v2)));
}

/** What an upload to a device that cannot half-close is told. */
export const NO_HALF_CLOSE = 'the device\'s agent cannot half-close streams (stream protocol v2), which an upload needs; update devicestreams on the device';

/**
 * Counts bytes through it: `onBytes` with the running total; fails past `size`, or at the end short
 * of it. Its output ends as soon as `size` bytes have passed, so what it feeds completes without
 * waiting for its input's own end (a browser that has the whole download closes its connection
 * then; the device's end of the stream may come a moment later). It buffers up to `highWaterMark`
 * bytes on each side.
 */
export function counter(size: number, onBytes: (n: number) => void, short: (got: number) => Error, highWaterMark = FILE_CHUNK_BYTES): Transform {
  let n = 0;
  return new Transform({
    highWaterMark,
    transform(chunk: Buffer, _enc, callback) {
      n += chunk.length;
      if (n > size) return callback(new FileTransferError('protocol', `the device sent more than the ${size} bytes it announced`));
      onBytes(n);
      this.push(chunk);
      if (n === size) this.push(null);
      callback();
    },
    flush(callback) {
      callback(n < size ? short(n) : null);
    },
  });
}

/**
 * Lets a finished transfer's stream close by itself (both directions ended: the log then shows a
 * normal end) and destroys it when it has not within `ms` (a device side that never ends its half).
 */
export function closeWhenDone(stream: Duplex, ms = 5000): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => stream.destroy(), ms);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', () => undefined);
    if (!stream.writableEnded) stream.end();
    // Whatever the device still sends after its answer is read and dropped, so its end arrives.
    stream.resume();
  });
}
