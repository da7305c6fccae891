/**
 * The file protocol: one file copied over one stream to the device's file server
 * (`devicestreams file-server`, mapped as `files`). Every message is a JSON header on one line
 * (at most MAX_HEADER_BYTES, newline included); file bytes follow a header raw, never framed, so a
 * file streams with the stream's own backpressure and is never held whole anywhere.
 *
 *   get   client → {v:1, op:"get", path}           then end of input
 *         server → {type:"file", size}             then exactly `size` bytes, then end
 *   put   client → {v:1, op:"put", path, size}
 *         server → {type:"ready"}                  the path is allowed and a temporary file open
 *         client → exactly `size` bytes, then end of input (stream protocol v2 half-close)
 *         server → {type:"done", size}             after fsync and rename over `path`
 *   any   server → {type:"error", code, message}   instead of any of the above; then end
 *
 * Paths are relative to the server's root, '/'-separated; the server refuses anything that would
 * leave the root (absolute, `..`, symlinks out of it). An upload that ends short, or whose stream
 * is lost, leaves nothing behind: the temporary file is removed and `path` is untouched.
 *
 * Browser-safe (type-only Node imports).
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';

export const FILE_PROTOCOL_VERSION = 1;
/** The longest header line, newline included; a longer one is a protocol error. */
export const MAX_HEADER_BYTES = 8 * 1024;
/** The longest path a request may name (Linux's PATH_MAX). */
export const MAX_PATH_CHARS = 4096;
/** The stream name the agent maps to the file server unless told otherwise. */
export const DEFAULT_FILES_STREAM = 'files';

/** Why a request failed: a stable code each side can act on. */
export const FILE_ERROR_CODES = ['outside-root', 'not-found', 'permission', 'no-space', 'is-directory', 'too-large', 'short-upload', 'bad-request', 'io-error'] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

/** What a person can do about each error, appended to the server's sentence by clients. */
export const FILE_ERROR_HINTS: Readonly<Record<FileErrorCode, string>> = Object.freeze({
  'outside-root': 'use a path relative to the file server\'s --root, without ".." (symlinks out of the root are refused too)',
  'not-found': 'check the path (it is relative to the file server\'s --root; the directory must exist)',
  permission: 'check the owner and mode on the device, or the account the file server runs as (--user)',
  'no-space': 'free space on the device\'s disk, then copy again',
  'is-directory': 'name a file, for example DIR/NAME',
  'too-large': 'raise the file server\'s --max-file-size, or copy a smaller file',
  'short-upload': 'the upload was cut off before all bytes arrived; nothing was written, copy again',
  'bad-request': 'update devicestreams on both sides',
  'io-error': 'see the file server\'s log on the device',
});

const relPath = z.string().min(1).max(MAX_PATH_CHARS);
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const requests = z.discriminatedUnion('op', [
  /** Download `path`. */
  z.object({ v: z.literal(FILE_PROTOCOL_VERSION), op: z.literal('get'), path: relPath }),
  /** Upload exactly `size` bytes to `path`. */
  z.object({ v: z.literal(FILE_PROTOCOL_VERSION), op: z.literal('put'), path: relPath, size }),
]);
export type FileRequest = z.infer<typeof requests>;

const responses = z.discriminatedUnion('type', [
  /** get: `size` bytes follow. */
  z.object({ type: z.literal('file'), size }),
  /** put: send the bytes now. */
  z.object({ type: z.literal('ready') }),
  /** put: the file is in place with `size` bytes. */
  z.object({ type: z.literal('done'), size }),
  /** The request failed; nothing follows. */
  z.object({ type: z.literal('error'), code: z.enum(FILE_ERROR_CODES), message: z.string().max(1000) }),
]);
export type FileResponse = z.infer<typeof responses>;

/** One header line (JSON and a newline); throws RangeError when it would exceed MAX_HEADER_BYTES. */
export function encodeHeader(header: FileRequest | FileResponse): Buffer {
  const line = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  if (line.length > MAX_HEADER_BYTES) throw new RangeError(`file protocol header of ${line.length} bytes exceeds ${MAX_HEADER_BYTES}`);
  return line;
}

/** A request line, or undefined when it is not one this version knows. */
export function decodeRequest(line: string): FileRequest | undefined {
  return parseWith(requests, line);
}

/** A response line, or undefined when it is not one this version knows. */
export function decodeResponse(line: string): FileResponse | undefined {
  return parseWith(responses, line);
}

function parseWith<T>(schema: z.ZodType<T>, line: string): T | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const r = schema.safeParse(json);
  return r.success ? r.data : undefined;
}

/** Why reading a header line failed. */
export class HeaderError extends Error {}

/**
 * Reads one header line from `input` without consuming anything after it (the rest is unshifted
 * back, so the file bytes that follow can be piped on). Rejects with HeaderError when the line
 * passes MAX_HEADER_BYTES or the input ends (or fails) first. `input` must not be flowing.
 */
export function readHeaderLine(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    const done = (err: Error | undefined, line?: string): void => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
      input.off('close', onEnd);
      if (err !== undefined) reject(err);
      else resolve(line ?? '');
    };
    const onReadable = (): void => {
      let chunk: unknown;
      while ((chunk = input.read()) !== null) {
        const buf = chunk as Buffer;
        const nl = buf.indexOf(10);
        if (nl === -1) {
          parts.push(buf);
          length += buf.length;
          if (length >= MAX_HEADER_BYTES) return done(new HeaderError(`header line longer than ${MAX_HEADER_BYTES} bytes`));
          continue;
        }
        if (length + nl + 1 > MAX_HEADER_BYTES) return done(new HeaderError(`header line longer than ${MAX_HEADER_BYTES} bytes`));
        parts.push(buf.subarray(0, nl));
        if (nl + 1 < buf.length) input.unshift(buf.subarray(nl + 1));
        return done(undefined, Buffer.concat(parts).toString('utf8'));
      }
    };
    const onEnd = (): void => done(new HeaderError('the other side closed the stream before it sent a header'));
    const onError = (err: Error): void => done(err);
    input.on('readable', onReadable);
    input.once('end', onEnd);
    input.once('close', onEnd);
    input.once('error', onError);
    onReadable();
  });
}
