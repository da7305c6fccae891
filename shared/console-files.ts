/**
 * The console's file transfer API (the browser and the BFF both import this):
 *
 *   PUT /api/devices/{id}/files?path=P[&session=S]   body: the file's bytes, with Content-Length
 *        → 201 FileUploaded                             (operators and admins; Origin checked)
 *   GET /api/devices/{id}/files?path=P[&session=S]
 *        → 200 the file's bytes, Content-Length, Content-Disposition: attachment
 *   GET /api/devices/{id}/files?path=P&check=1
 *        → 200 DownloadCheck (the file can be downloaded; nothing is transferred)
 *
 * P is the path on the device, relative to its file server's --root. S (optional) is the terminal
 * session the transfer was started from: while that session is recorded, the recording gets a
 * marker. Errors are the console's `{ error: { code, message } }` (FILE_API_ERRORS).
 */

/** The largest file the console uploads (the BFF refuses a larger Content-Length with 413 before reading any of it). */
export const MAX_CONSOLE_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024;

/** The device service the console's transfers use (what the agent must map). */
export const CONSOLE_FILES_STREAM = 'files';

/** What a finished upload answers. */
export interface FileUploaded {
  path: string;
  size: number;
}

/** A download's check: the file is there and readable, with this size. */
export interface DownloadCheck {
  path: string;
  size: number;
}

/** Error codes of the file routes besides the console's usual ones (bad_request, forbidden, unauthorized). */
export const FILE_API_ERRORS = {
  /** No Content-Length (a chunked body): the device must know the size first. */
  lengthRequired: 'length_required',
  /** Content-Length over MAX_CONSOLE_UPLOAD_BYTES. */
  tooLarge: 'too_large',
  /** The device is not connected. */
  deviceOffline: 'device_offline',
  /** The device has no `files` mapping, or nothing listens behind it. */
  noFileServer: 'no_file_server',
  /** The device is disabled in the registry. */
  deviceDisabled: 'device_disabled',
  /** The device did not answer the stream request in time. */
  deviceTimeout: 'device_timeout',
  /** The hub's stream limits were reached. */
  busy: 'busy',
  /** The stream to the device failed mid-way. */
  streamFailed: 'stream_failed',
  /** The browser stopped the upload (only seen in the log; the browser is gone). */
  cancelled: 'cancelled',
} as const;

/** The file server's refusals arrive as `file_<its code>` (shared/file-protocol.ts FILE_ERROR_CODES, "-" as "_"), e.g. file_outside_root. */
export const FILE_SERVER_ERROR_PREFIX = 'file_';

/** The URL of a file on a device, for PUT (upload) and GET (download, a plain link). */
export function deviceFileUrl(deviceId: string, path: string, session?: string): string {
  const q = new URLSearchParams({ path });
  if (session !== undefined) q.set('session', session);
  return `/api/devices/${encodeURIComponent(deviceId)}/files?${q.toString()}`;
}

/**
 * A file name safe for Content-Disposition and a download folder: the path's last part, without
 * control characters, quotes, backslashes or separators; "download" when nothing is left.
 */
export function downloadName(path: string): string {
  const last = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..').at(-1) ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = last.replace(/[\u0000-\u001f\u007f-\u009f"\\/:*?<>|]/g, '_').replace(/^\.+/, '').slice(0, 200);
  return clean === '' ? 'download' : clean;
}
