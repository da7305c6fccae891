import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { downloadRecordingCast, recordingQuery } from '../api';
import { AsciicastParser, type Asciicast } from '../replay/asciicast';

/** What the server knows about one recording (404 once deleted or past retention). */
export function useRecording(streamId: string) {
  return useQuery(recordingQuery(streamId));
}

/** Where a recording's download stands. */
export type CastDownload =
  | { phase: 'downloading'; received: number; total: number | null }
  | { phase: 'ready'; cast: Asciicast }
  | { phase: 'error'; error: unknown };

/** Progress is re-rendered at most this often. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Downloads and parses a recording's .cast file, parsing each piece as it arrives (AsciicastParser)
 * so a file of tens of MiB is ready soon after its last byte, with progress on the way.
 *
 * Not a React Query query on purpose: the parsed recording can be a hundred MiB of strings, which
 * must not outlive the page in a cache, and a query has no progress to report.
 */
export function useCastDownload(streamId: string): CastDownload {
  const [state, setState] = useState<CastDownload>({ phase: 'downloading', received: 0, total: null });
  useEffect(() => {
    const abort = new AbortController();
    const parser = new AsciicastParser();
    let shownAt = 0;
    setState({ phase: 'downloading', received: 0, total: null });
    downloadRecordingCast(streamId, {
      signal: abort.signal,
      onText: (text) => parser.push(text),
      onProgress: (received, total) => {
        const now = performance.now();
        if (now - shownAt < PROGRESS_INTERVAL_MS) return;
        shownAt = now;
        setState({ phase: 'downloading', received, total });
      },
    })
      .then(() => {
        if (!abort.signal.aborted) setState({ phase: 'ready', cast: parser.finish() });
      })
      .catch((error: unknown) => {
        if (!abort.signal.aborted) setState({ phase: 'error', error });
      });
    return () => abort.abort();
  }, [streamId]);
  return state;
}
