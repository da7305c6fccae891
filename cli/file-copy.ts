/**
 * The client half of the file protocol (shared/file-protocol.ts) on one stream: upload a local
 * file, download into a local file. Bytes are piped with backpressure end to end (disk → stream,
 * stream → disk), never collected; a download lands in a temporary file beside its target and is
 * renamed over it only when every announced byte arrived.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FILE_PROTOCOL_VERSION, encodeHeader } from '../shared/file-protocol.js';
import { FILE_CHUNK_BYTES as CHUNK_BYTES, FileTransferError, NO_ANSWER, NO_HALF_CLOSE, counter, peerHalfCloses, readResponse } from '../server/sdk/file-client.js';

export { FileTransferError };

/**
 * Uploads `local` (an open file of `size` bytes) to `path` on the device over `stream`; resolves
 * when the device has the file in place. Throws FileTransferError.
 */
export async function upload(stream: Duplex, local: FileHandle, size: number, path: string, onBytes: (n: number) => void): Promise<void> {
  if (!(await peerHalfCloses(stream))) throw new FileTransferError('protocol', NO_HALF_CLOSE);
  stream.write(encodeHeader({ v: FILE_PROTOCOL_VERSION, op: 'put', path, size }));
  const ready = await readResponse(stream, NO_ANSWER);
  if (ready.type !== 'ready') throw new FileTransferError('protocol', `the device answered "${ready.type}" to an upload`);
  // The answer may come early (no space, a failure on the device): it ends the upload at once.
  const answer = readResponse(stream, `the stream ended before the device confirmed ${path}; it may not be in place, copy again`);
  // The read stream closes `local` when it is done (a FileHandle a stream uses cannot be closed before).
  const source = size > 0 ? local.createReadStream({ start: 0, end: size - 1, highWaterMark: CHUNK_BYTES }) : undefined;
  const sent = source === undefined
    ? new Promise<void>((resolve) => stream.end(resolve))
    : pipeline(source, counter(size, onBytes, (got) => new FileTransferError('protocol', `the local file shrank to ${got} bytes while it was read`)), stream);
  const early = answer.then((r) => {
    source?.destroy();
    return r;
  });
  // Whichever settles first: a failed upload or an early answer is final; a complete one waits for the answer.
  const first = await Promise.race([sent.then(() => undefined), early]);
  const done = first ?? await answer;
  if (done.type !== 'done' || done.size !== size) throw new FileTransferError('protocol', `the device answered "${done.type}" to a complete upload`);
}

/**
 * Downloads `path` from the device over `stream` into `target` (a temporary file beside it, then
 * renamed); `onSize` learns the size first. Throws FileTransferError, or the local file error.
 */
export async function download(stream: Duplex, path: string, target: string, onSize: (size: number) => void, onBytes: (n: number) => void): Promise<number> {
  stream.write(encodeHeader({ v: FILE_PROTOCOL_VERSION, op: 'get', path }));
  const header = await readResponse(stream, NO_ANSWER);
  if (header.type !== 'file') throw new FileTransferError('protocol', `the device answered "${header.type}" to a download`);
  onSize(header.size);
  const temp = join(dirname(target), `.${basename(target)}.ds-download-${randomBytes(6).toString('hex')}`);
  const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  let renamed = false;
  try {
    const short = (got: number): Error => new FileTransferError('short-upload', `the download of ${path} ended after ${got} of ${header.size} bytes; nothing was written, copy again`);
    // flush: fsync before the stream closes the handle; the rename waits for that close.
    const out = fh.createWriteStream({ flush: true, highWaterMark: CHUNK_BYTES });
    const closed = once(out, 'close');
    await pipeline(stream, counter(header.size, onBytes, short), out);
    await closed;
    await rename(temp, target);
    renamed = true;
  } finally {
    await fh.close().catch(() => undefined);
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
  return header.size;
}
