/** `devicestreams cp` — copy one file to or from a device's file server, through one stream. */
import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { DEFAULT_FILES_STREAM } from '../../shared/file-protocol.js';
import { CliError, logLine, parse } from '../args.js';
import { FileTransferError, download, upload } from '../file-copy.js';
import { closeWhenDone } from '../../server/sdk/file-client.js';
import type { ServiceStream } from '../../server/sdk/service-client.js';
import { createProgress } from '../progress.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, STREAM_TIMEOUT_FLAGS, STREAM_TIMEOUT_FLAGS_HELP, deviceIdArg, serviceClientFromFlags, streamNameFlag, streamTimeouts } from '../service-flags.js';

const HELP = `
Usage: devicestreams cp [--stream NAME] [options] LOCAL DEVICE-ID:PATH
       devicestreams cp [--stream NAME] [options] DEVICE-ID:PATH LOCAL

Copies one file to or from a device through one stream to its file server ("devicestreams
file-server", mapped on the agent as --map files=unix:…). PATH is relative to the file server's
--root; a PATH ending in / (upload) or a LOCAL that is a directory (download) keeps the file's
name. Either side gets the file whole or not at all: it is written to a temporary file and renamed
into place only when every byte arrived. A progress line is shown on stderr when it is a terminal.

Options:
  --stream NAME               the stream the device's agent maps to its file server (default ${DEFAULT_FILES_STREAM})
${SERVICE_FLAGS_HELP}
${STREAM_TIMEOUT_FLAGS_HELP}
  -h, --help                  this help

Exit status: 0 when the file is in place, 1 when the copy failed (the reason on stderr), 2 for
a usage error.

Example:
  devicestreams cp firmware-2.4.bin pump-17:updates/firmware-2.4.bin
  devicestreams cp pump-17:logs/app.log ./pump-17-app.log
`;

/** `DEVICE:PATH` (a device id has no '/'), or undefined for a local path. */
function remote(arg: string): { device: string; path: string } | undefined {
  const m = /^([^/:]+):(.*)$/s.exec(arg);
  if (m === null) return undefined;
  const path = m[2] as string;
  if (path === '') throw new CliError(`${arg}: give a path after the colon, e.g. ${m[1]}:logs/app.log`, 2);
  return { device: deviceIdArg(m[1] as string), path };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** What a failure to read the local file `path` means, in a sentence that names it. */
function localReadError(code: string | undefined, path: string): string {
  switch (code) {
    case 'ENOENT': return `${path}: no such file here; check the local path`;
    case 'ENOTDIR': return `${path}: a part of that path is not a directory here; check the local path`;
    case 'EACCES':
    case 'EPERM': return `${path}: not allowed to read it here`;
    case 'ELOOP': return `${path}: too many symbolic links on the way to it here`;
    case 'ENAMETOOLONG': return `${path}: the name is too long for this file system`;
    case 'EMFILE':
    case 'ENFILE': return `${path}: too many files are open on this machine to read it; try again`;
    default: return `${path}: cannot read it here (${code ?? 'unknown error'})`;
  }
}

/**
 * What a failure to write the downloaded file means, in a sentence that names `target` as the
 * user gave it: the temporary file beside it (gone by now) is ours, not theirs.
 */
function localWriteError(code: string | undefined, target: string): string {
  const why = ((): string => {
    switch (code) {
      case 'ENOENT': return 'its directory does not exist here';
      case 'ENOTDIR': return 'a part of that path is not a directory here';
      case 'EISDIR':
      case 'ENOTEMPTY':
      case 'EEXIST': return 'a directory of that name is in the way here; give another name, or that directory to keep the file\'s name';
      case 'EACCES':
      case 'EPERM': return 'not allowed to write there';
      case 'EROFS': return 'the file system there is read-only';
      case 'ENOSPC': return 'no space left on the file system there';
      case 'EDQUOT': return 'the disk quota there is used up';
      case 'ENAMETOOLONG': return 'the name is too long for the file system there';
      case 'ELOOP': return 'too many symbolic links on the way to it';
      case 'EMFILE':
      case 'ENFILE': return 'too many files are open on this machine; try again';
      default: return `the file system refused (${code ?? 'unknown error'})`;
    }
  })();
  return `cannot write ${target}: ${why}; nothing was written`;
}

/** The calls a download makes on the local file system (a socket's errors have other calls, or none). */
const FILE_WRITE_CALLS = new Set(['open', 'write', 'fsync', 'fdatasync', 'close', 'rename']);

async function openLocal(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new CliError(localReadError((err as NodeJS.ErrnoException).code, path));
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new CliError(`${path} is not a regular file; cp copies one file`, 2);
  }
  return { fh, size: st.size };
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    stream: { type: 'string' },
    ...SERVICE_FLAGS,
    ...STREAM_TIMEOUT_FLAGS,
  }, HELP);
  if (positionals.length !== 2) throw new CliError('give a source and a destination, one of them DEVICE-ID:PATH (see --help)', 2);
  const [from, to] = positionals as [string, string];
  const src = remote(from);
  const dst = remote(to);
  if ((src === undefined) === (dst === undefined)) throw new CliError('exactly one of the two must be DEVICE-ID:PATH (a local path with a colon: write it as ./NAME)', 2);
  if (values['no-resume'] === true) throw new CliError('cp needs a resumable (v2) stream for end of input; leave out --no-resume', 2);
  const streamName = streamNameFlag(values.stream ?? DEFAULT_FILES_STREAM, '--stream');
  const service = serviceClientFromFlags(values);
  const options = streamTimeouts(values, (line) => logLine(line));

  if (dst !== undefined) {
    const { fh, size } = await openLocal(from);
    const path = dst.path.endsWith('/') ? posix.join(dst.path, basename(from)) : dst.path;
    try {
      const stream = await service.initiateStream(dst.device, streamName, { ...options, transfer: { direction: 'upload', path } });
      const progress = createProgress(`${basename(from)} → ${dst.device}:${path}`, size);
      let failure: unknown;
      try {
        await upload(stream, fh, size, path, (n) => progress.update(n));
        progress.done();
        await closeWhenDone(stream);
      } catch (err) {
        failure = err;
        throw err;
      } finally {
        await giveUp(stream, failure);
      }
    } catch (err) {
      throw err instanceof FileTransferError ? new CliError(err.message) : err;
    } finally {
      await fh.close();
    }
    return;
  }

  const source = src as { device: string; path: string };
  // A LOCAL ending in / names a directory: one that is not there is said now, not after the copy.
  if (/\/$/.test(to) && !isDirectory(to)) throw new CliError(`${to}: no such directory here; create it first, or give a file name`);
  const target = isDirectory(to) ? join(to, posix.basename(source.path)) : to;
  const stream = await service.initiateStream(source.device, streamName, { ...options, transfer: { direction: 'download', path: source.path } });
  let failure: unknown;
  try {
    let progress = createProgress('', 0);
    await download(stream, source.path, target, (size) => {
      progress = createProgress(`${source.device}:${source.path} → ${target}`, size);
    }, (n) => progress.update(n));
    progress.done();
    await closeWhenDone(stream);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    failure = err instanceof FileTransferError ? new CliError(err.message)
      : typeof e.code === 'string' && FILE_WRITE_CALLS.has(e.syscall ?? '') ? new CliError(localWriteError(e.code, target))
      : err;
    throw failure;
  } finally {
    await giveUp(stream, failure);
  }
}

/**
 * Ends the stream: cleanly after a copy, or given up with why (the device and the stream log read
 * it) after a failure — and waits, at most 3 s, until that is said: the command exits right after,
 * and a stream cut off by the exit would be taken for a lost connection and wait out its resume
 * window on the hub.
 */
async function giveUp(stream: ServiceStream, failure: unknown): Promise<void> {
  if (failure === undefined) stream.destroy();
  else {
    stream.on('error', () => undefined);
    stream.destroy(new Error(`the copy failed here: ${failure instanceof Error ? failure.message : 'an unexpected error'}`.slice(0, 120)));
  }
  await Promise.race([stream.legClosed(), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
}
