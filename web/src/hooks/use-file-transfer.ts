/**
 * The state of the terminal page's file transfers: one upload (progress, cancel) and one download
 * check at a time. The transfers themselves are in files/file-transfer.ts; an upload still going
 * when the page unmounts is cancelled (the device then keeps nothing).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api';
import { checkDownload, startDownload, startUpload, type Upload, type UploadProgress } from '../files/file-transfer';
import { formatBytes } from '../format';

export type UploadState =
  | { phase: 'idle' }
  | { phase: 'uploading'; path: string; progress: UploadProgress }
  | { phase: 'done'; path: string; size: number }
  | { phase: 'cancelled'; path: string }
  | { phase: 'failed'; path: string; message: string };

export type DownloadState =
  | { phase: 'idle' }
  | { phase: 'checking'; path: string }
  | { phase: 'started'; path: string; size: number }
  | { phase: 'failed'; path: string; message: string };

/** The terminal session this page shows (its URL names it once announced): transfers mark its recording. */
function currentSession(): string | undefined {
  const id = new URLSearchParams(window.location.search).get('session');
  return id !== null && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

export function useFileUpload(deviceId: string): { state: UploadState; start: (file: File, path: string) => void; cancel: () => void } {
  const [state, setState] = useState<UploadState>({ phase: 'idle' });
  const current = useRef<Upload | null>(null);
  useEffect(() => () => current.current?.cancel(), []);

  const start = useCallback((file: File, path: string) => {
    if (current.current !== null) return;
    setState({ phase: 'uploading', path, progress: { loaded: 0, total: file.size } });
    const upload = startUpload(deviceId, path, file, currentSession(), (progress) => setState({ phase: 'uploading', path, progress }));
    current.current = upload;
    upload.done.then(
      (r) => setState({ phase: 'done', path: r.path, size: r.size }),
      (err: unknown) => setState(err instanceof DOMException && err.name === 'AbortError' ? { phase: 'cancelled', path } : { phase: 'failed', path, message: messageOf(err) }),
    ).finally(() => {
      if (current.current === upload) current.current = null;
    });
  }, [deviceId]);

  const cancel = useCallback(() => current.current?.cancel(), []);
  return { state, start, cancel };
}

export function useFileDownload(deviceId: string): { state: DownloadState; start: (path: string) => void } {
  const [state, setState] = useState<DownloadState>({ phase: 'idle' });
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  const start = useCallback((path: string) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setState({ phase: 'checking', path });
    checkDownload(deviceId, path, controller.signal).then(
      (found) => {
        startDownload(deviceId, path, currentSession());
        setState({ phase: 'started', path, size: found.size });
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setState({ phase: 'failed', path, message: messageOf(err) });
      },
    );
  }, [deviceId]);

  return { state, start };
}

/** "12 MiB of 100 MiB (12%)". */
export function progressText(p: UploadProgress): string {
  const pct = p.total === 0 ? 100 : Math.floor((p.loaded / p.total) * 100);
  return `${formatBytes(p.loaded)} of ${formatBytes(p.total)} (${pct}%)`;
}
