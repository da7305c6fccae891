/**
 * One file transfer of the file server (shared/file-protocol.ts) on one connection: a download
 * streamed from an open descriptor, an upload streamed into a temporary file beside its target,
 * fsynced and renamed over it only when every announced byte arrived. Reading from the connection
 * stops while the disk is behind (backpressure), so neither direction holds more than a few
 * buffers of a file. On any failure the temporary file is removed.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, statfs, unlink, type FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { encodeHeader } from '../../shared/file-protocol.js';
import { FileError, checkOpened, fsError, resolveForRead, resolveForWrite } from './root-path.js';

export interface TransferOptions {
  /** The root's realpath. */
  root: string;
  /** Largest file sent or accepted, in bytes. */
  maxFileSize: number;
}

/** Read and write buffers per transfer. */
const CHUNK_BYTES = 1024 * 1024;

function tooLarge(path: string, size: number, max: number): FileError {
  return new FileError('too-large', `${path} is ${size} bytes; this file server takes files up to ${max} bytes`);
}

/** Sends `path` on `socket`: a `file` header, then its bytes, then end. Throws FileError before the header. */
export async function sendFile(socket: Socket, o: TransferOptions, path: string): Promise<number> {
  const real = await resolveForRead(o.root, path);
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw fsError(err, path);
  }
  try {
    await checkOpened(o.root, fh.fd, path);
    const st = await fh.stat();
    if (st.isDirectory()) throw new FileError('is-directory', `${path} is a directory`);
    if (!st.isFile()) throw new FileError('bad-request', `${path} is not a regular file`);
    if (st.size > o.maxFileSize) throw tooLarge(path, st.size, o.maxFileSize);
    socket.write(encodeHeader({ type: 'file', size: st.size }));
    // At most the size announced: a file that grows meanwhile is cut there; one that shrinks
    // arrives short, which the client notices.
    // The read stream closes the handle when it is done (a FileHandle used by a stream cannot be closed before).
    if (st.size > 0) await pipeline(fh.createReadStream({ start: 0, end: st.size - 1, highWaterMark: CHUNK_BYTES }), socket);
    else socket.end();
    return st.size;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Receives `size` bytes for `path` from `socket` (after answering `ready`) into a temporary file,
 * and renames it over `path` when all of them arrived and end of input followed. Resolves when the
 * file is in place; throws FileError (the temporary file removed) otherwise.
 */
export async function receiveFile(socket: Socket, o: TransferOptions, path: string, size: number): Promise<void> {
  if (size > o.maxFileSize) throw tooLarge(path, size, o.maxFileSize);
  const target = await resolveForWrite(o.root, path);
  const existing = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW).then(async (fh) => {
    try {
      return await fh.stat();
    } finally {
      await fh.close();
    }
  }, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw fsError(err, path);
  });
  if (existing?.isDirectory() === true) throw new FileError('is-directory', `${path} is a directory`);
  const dir = dirname(target);
  const free = await statfs(dir).then((s) => s.bavail * s.bsize, () => Number.POSITIVE_INFINITY);
  if (size > free) throw new FileError('no-space', `${path}: the device has ${free} bytes free, the file is ${size}`);
  const temp = join(dir, `.${basename(target)}.ds-upload-${randomBytes(6).toString('hex')}`);
  let fh: FileHandle;
  try {
    // O_EXCL never follows a symlink and never reuses a file that is in the way.
    fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, existing === undefined ? 0o644 : existing.mode & 0o7777);
  } catch (err) {
    throw fsError(err, path);
  }
  let renamed = false;
  try {
    await checkOpened(o.root, fh.fd, path);
    socket.write(encodeHeader({ type: 'ready' }));
    await copyExactly(socket, fh, size, path);
    await rename(temp, target);
    renamed = true;
    await syncDir(dir);
  } catch (err) {
    throw fsError(err, path);
  } finally {
    await fh.close().catch(() => undefined);
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/**
 * Copies exactly `size` bytes from `socket` to `fh`, then waits for end of input; resolves when
 * the file is fsynced and `fh` closed. The socket is paused while the file's write buffer is full.
 * Rejects with short-upload when input ends (or the connection is lost) early, bad-request when
 * more bytes come.
 */
function copyExactly(socket: Socket, fh: FileHandle, size: number, path: string): Promise<void> {
  // flush: fsync before the stream closes the handle (a handle a stream uses is closed by it).
  const out = fh.createWriteStream({ flush: true, highWaterMark: CHUNK_BYTES });
  return new Promise<void>((resolve, reject) => {
    let received = 0;
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      out.off('error', settle);
      if (err === undefined) resolve();
      else {
        socket.pause();
        // A write still in flight fails once the stream is destroyed: that error must not reach
        // the process as an unhandled 'error' (it crashed the server and left the temporary file).
        out.on('error', () => undefined);
        out.destroy();
        reject(err);
      }
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > size) return settle(new FileError('bad-request', `more than the ${size} bytes announced for ${path} arrived`));
      if (!out.write(chunk)) {
        socket.pause();
        out.once('drain', () => {
          if (!settled) socket.resume();
        });
      }
    };
    const onEnd = (): void => {
      if (received < size) return settle(new FileError('short-upload', `${path}: the upload ended after ${received} of ${size} bytes; nothing was written`));
      out.once('close', () => settle());
      out.end();
    };
    const onClose = (): void => settle(new FileError('short-upload', `${path}: the connection was lost after ${received} of ${size} bytes; nothing was written`));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    out.once('error', settle);
    socket.resume();
  });
}

/** Makes a rename in `dir` durable; best effort (some filesystems refuse to fsync a directory). */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
  if (d === undefined) return;
  await d.sync().catch(() => undefined);
  await d.close().catch(() => undefined);
}
