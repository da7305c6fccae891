/**
 * What a file transfer is, as its initiator tells the hub (header `x-devicestreams-transfer` on
 * POST /twins/{id}/streams/{name}) and the stream log keeps it: the direction and the file's name
 * (its path on the device). The size is not sent: the log reports the bytes that went the
 * transfer's way (to the device for an upload, from it for a download), which it counts anyway.
 *
 * Header value: `upload NAME` or `download NAME`, NAME percent-encoded (so any path fits a header).
 * Browser-safe.
 */

/** The request header that says a stream carries a file transfer. */
export const TRANSFER_HEADER = 'x-devicestreams-transfer';
/** The longest name the log keeps, in characters; clients shorten longer paths (transferName). */
export const MAX_TRANSFER_NAME_CHARS = 256;

export type TransferDirection = 'upload' | 'download';

/** A transfer as the log keeps it. */
export interface TransferLabel {
  direction: TransferDirection;
  /** The path on the device (at most MAX_TRANSFER_NAME_CHARS, no control characters). */
  name: string;
}

/** A transfer as the log reports it: its label and the bytes that went its way. */
export interface TransferSummary extends TransferLabel {
  size: number;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The name to log for `path`: the path itself, or its last MAX_TRANSFER_NAME_CHARS - 1 characters
 * after "…" (the end of a path says more than its start); control characters become "?".
 */
export function transferName(path: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = path.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  const chars = Array.from(clean);
  return chars.length <= MAX_TRANSFER_NAME_CHARS ? clean : `…${chars.slice(chars.length - MAX_TRANSFER_NAME_CHARS + 1).join('')}`;
}

/** The header value for a transfer of `path` (shortened with transferName). */
export function encodeTransferHeader(direction: TransferDirection, path: string): string {
  return `${direction} ${encodeURIComponent(transferName(path))}`;
}

/** Why a transfer header was refused: a sentence for the initiator. */
export class TransferHeaderError extends Error {}

/** Reads a header value; throws TransferHeaderError saying what is wrong with it. */
export function parseTransferHeader(value: string): TransferLabel {
  const m = /^(upload|download) (\S+)$/.exec(value);
  if (m === null) throw new TransferHeaderError(`header ${TRANSFER_HEADER} must be "upload NAME" or "download NAME" with NAME percent-encoded`);
  let name: string;
  try {
    name = decodeURIComponent(m[2] as string);
  } catch {
    throw new TransferHeaderError(`header ${TRANSFER_HEADER}: the name is not valid percent-encoded UTF-8`);
  }
  if (name === '' || Array.from(name).length > MAX_TRANSFER_NAME_CHARS || CONTROL.test(name)) {
    throw new TransferHeaderError(`header ${TRANSFER_HEADER}: the name must be 1 to ${MAX_TRANSFER_NAME_CHARS} characters without control characters`);
  }
  return { direction: m[1] as TransferDirection, name };
}
