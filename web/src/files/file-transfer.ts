/**
 * File transfers from the console page (shared/console-files.ts), outside React:
 *
 * - upload: XMLHttpRequest with the File as its body, so the browser streams it from disk (a
 *   100 MiB file is never read into page memory) and reports upload progress; abort() cancels it,
 *   and the device then keeps nothing.
 * - download: first a check (the BFF asks the device's file server for the file and answers with
 *   its size or the reason it cannot), then the browser's own download of the same URL, so the
 *   bytes go to disk and never through page memory; its progress shows in the browser's downloads.
 */
import { deviceFileUrl, type DownloadCheck, type FileUploaded } from '../../../shared/console-files';
import type { ApiError as ApiErrorBody } from '../../../shared/console-api';
import { ApiError } from '../api';

/** Progress of an upload: bytes the browser has sent of `total`. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

/** The ApiError for a failed answer: the server's sentence when it sent one. */
function failure(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as ApiErrorBody;
    if (typeof body.error?.message === 'string') return new ApiError(status, body.error.code, body.error.message);
  } catch {
    // not JSON: a proxy's page, say
  }
  return new ApiError(status, `http_${status}`, `The upload failed (HTTP ${status}).`);
}

/** A started upload: `done` settles with the answer; `cancel()` stops it (done rejects with an AbortError). */
export interface Upload {
  done: Promise<FileUploaded>;
  cancel(): void;
}

/** Uploads `file` to `path` on the device; `session`: the terminal session it is started from (for the recording's marker). */
export function startUpload(deviceId: string, path: string, file: File, session: string | undefined, onProgress: (p: UploadProgress) => void): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<FileUploaded>((resolve, reject) => {
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onload = () => {
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText) as FileUploaded);
      else reject(failure(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was cut off: the connection to the console server broke. Nothing was written on the device; try again.'));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
    xhr.open('PUT', deviceFileUrl(deviceId, path, session));
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

/** Asks the device whether `path` can be downloaded; throws ApiError with the reason when not. */
export async function checkDownload(deviceId: string, path: string, signal?: AbortSignal): Promise<DownloadCheck> {
  let res: Response;
  try {
    res = await fetch(`${deviceFileUrl(deviceId, path)}&check=1`, { credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: signal ?? null });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'Cannot reach the console server. Check your connection.');
  }
  const text = await res.text();
  if (!res.ok) throw failure(res.status, text);
  return JSON.parse(text) as DownloadCheck;
}

/** Hands the download to the browser: a link to the file's URL, clicked (the page stays). */
export function startDownload(deviceId: string, path: string, session: string | undefined): void {
  const a = document.createElement('a');
  a.href = deviceFileUrl(deviceId, path, session);
  a.download = '';
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
}

/** The path an upload goes to: the typed path, or the file's name in it when it ends with "/" (or is empty). */
export function uploadPath(typed: string, fileName: string): string {
  const t = typed.trim();
  if (t === '') return fileName;
  return t.endsWith('/') ? `${t}${fileName}` : t;
}
