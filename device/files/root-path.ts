/**
 * Keeping the file server inside its root. A request's path is checked as text first (relative,
 * no `..`, no NUL), then on disk: every symlink on the way is resolved (realpath) and the result
 * must still lie inside the root's own realpath, so a symlink — the file itself or any directory
 * above it — that points out of the root is refused. A symlink that stays inside is followed.
 * After a file is opened its descriptor's path (/proc/self/fd) is checked again, which also
 * catches a directory swapped for a symlink between the check and the open.
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import type { FileErrorCode } from '../../shared/file-protocol.js';

/** A refusal or failure with its protocol error code and a sentence for the client. */
export class FileError extends Error {
  constructor(readonly code: FileErrorCode, message: string) {
    super(message);
  }
}

/** The protocol code and sentence for a Node fs error about `what`. */
export function fsError(err: unknown, what: string): FileError {
  if (err instanceof FileError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': case 'ENOTDIR': return new FileError('not-found', `${what}: no such file or directory on the device`);
    case 'EACCES': case 'EPERM': case 'EROFS': return new FileError('permission', `${what}: the file server is not allowed to access it`);
    case 'ENOSPC': case 'EDQUOT': return new FileError('no-space', `${what}: no space left on the device`);
    case 'EISDIR': return new FileError('is-directory', `${what} is a directory`);
    case 'ELOOP': return outside(what);
    default: return new FileError('io-error', `${what}: ${code ?? (err instanceof Error ? err.message : String(err))}`);
  }
}

function outside(what: string): FileError {
  return new FileError('outside-root', `${what} leads outside the file server's root`);
}

/** The path's segments when it is a plain relative path; throws FileError('outside-root') otherwise. */
export function checkRelative(path: string): string[] {
  if (path.includes('\0')) throw new FileError('bad-request', 'the path contains a NUL character');
  if (path.startsWith('/')) throw new FileError('outside-root', `${path} is an absolute path; the file server only takes paths relative to its root`);
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new FileError('outside-root', `${path} contains "..", which could leave the file server's root`);
  if (segments.length === 0) throw new FileError('is-directory', `${path} names the root directory itself`);
  return segments;
}

/** Whether `real` (a realpath) is `root` or lies below it. */
export function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The realpath of an existing file to read, inside `root` (itself a realpath); throws FileError. */
export async function resolveForRead(root: string, path: string): Promise<string> {
  const segments = checkRelative(path);
  let real: string;
  try {
    real = await realpath(join(root, ...segments));
  } catch (err) {
    throw fsError(err, path);
  }
  if (!isInside(root, real)) throw outside(path);
  return real;
}

/**
 * Where an upload to `path` lands: the realpath of its directory (which must exist inside `root`)
 * joined with its name; an existing symlink there is followed when its target is inside the root.
 * Throws FileError.
 */
export async function resolveForWrite(root: string, path: string): Promise<string> {
  const segments = checkRelative(path);
  const full = join(root, ...segments);
  try {
    const real = await realpath(full);
    if (!isInside(root, real)) throw outside(path);
    return real;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, path);
  }
  let parent: string;
  try {
    parent = await realpath(dirname(full));
  } catch (err) {
    throw fsError(err, dirname(path) === '.' ? path : `${dirname(path)}/`);
  }
  if (!isInside(root, parent)) throw outside(path);
  const target = join(parent, basename(full));
  // realpath failed with ENOENT but the name may still be a dangling symlink (to outside, or to
  // a file not created yet): renaming over it is refused rather than guessing what was meant.
  const st = await lstat(target).catch(() => undefined);
  if (st?.isSymbolicLink() === true) throw outside(path);
  return target;
}

/** Checks that the open descriptor `fd` (named `path` to the client) lies inside `root`; throws FileError. */
export async function checkOpened(root: string, fd: number, path: string): Promise<void> {
  const where = await readlink(`/proc/self/fd/${fd}`).catch(() => undefined);
  // Without /proc (not Linux) the realpath checks before the open stand alone.
  if (where !== undefined && !isInside(root, where)) throw outside(path);
}
