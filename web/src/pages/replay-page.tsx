/**
 * The player of one terminal session's recording. Loaded lazily (it pulls in xterm.js). The page
 * fetches what the server knows about the recording and downloads the .cast file (with progress);
 * the ReplayView (replay/replay-view.tsx) shows the screen and controls over the ReplayPlayer
 * (replay/player.ts), which does the playing.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useRef } from 'react';
import type { Me, RecordingInfo } from '../../../shared/console-api';
import { deleteRecording, isApiError, queryKeys, recordingCastUrl } from '../api';
import { Link } from '../components/link';
import { LoadingState } from '../components/states';
import { formatBytes, formatDateTime, shortStreamId } from '../format';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useCastDownload, useRecording } from '../hooks/use-recording';
import { navigate, paths } from '../router';
import { describePlayError } from '../replay/play-error';
import { ReplayView } from '../replay/replay-view';
import '../terminal/terminal.css';
import '../replay/replay.css';

export default function ReplayPage({ streamId, me }: { streamId: string; me: Me }) {
  const info = useRecording(streamId);
  const download = useCastDownload(streamId);
  const short = shortStreamId(streamId);
  useDocumentTitle(`Replay · ${info.data?.deviceId ?? short}`);

  // A 404 or 403 from either request says it all; otherwise a download or parse failure.
  const infoGone = isApiError(info.error, 404) || isApiError(info.error, 403);
  const error = infoGone ? info.error : download.phase === 'error' ? download.error : null;

  return (
    <main className="replay-page">
      <div className="replay-bar">
        <h1 className="replay-title">
          Replay · <span className="mono">{info.data?.deviceId ?? short}</span>
        </h1>
        {info.data !== undefined && <RecordingFacts info={info.data} />}
        <div className="replay-actions">
          {!infoGone && (
            <a className="button button-small button-dark" href={recordingCastUrl(streamId)} download={`${streamId}.cast`}>
              Download .cast
            </a>
          )}
          {me.role === 'admin' && !infoGone && <DeleteRecording streamId={streamId} />}
        </div>
      </div>

      {error !== null ? (
        <div className="replay-message">
          <div className="state state-error" role="alert">
            <p>{describePlayError(error)}</p>
          </div>
          <p>
            <Link to={paths.history()}>Back to the history</Link>
          </p>
        </div>
      ) : download.phase === 'downloading' ? (
        <div className="replay-message">
          <DownloadProgress received={download.received} total={download.total ?? info.data?.size ?? null} />
        </div>
      ) : download.phase === 'ready' ? (
        <ReplayView key={streamId} cast={download.cast} info={info.data} me={me} streamId={streamId} />
      ) : null}
    </main>
  );
}

function RecordingFacts({ info }: { info: RecordingInfo }) {
  return (
    <p className="replay-facts">
      {info.operator !== null && <span>{info.operator}</span>}
      <time dateTime={info.startedAt}>{formatDateTime(info.startedAt)}</time>
      <span>{formatBytes(info.size)}</span>
    </p>
  );
}

function DownloadProgress({ received, total }: { received: number; total: number | null }) {
  const known = total !== null && total > 0;
  return (
    <div className="replay-download">
      <LoadingState>
        Downloading the recording… {formatBytes(received)}
        {known ? ` of ${formatBytes(total)}` : ''}
      </LoadingState>
      <progress aria-label="Download progress" max={known ? total : undefined} value={known ? Math.min(received, total) : undefined} />
    </div>
  );
}

/** "Delete recording" and its confirmation dialog (admins only). */
function DeleteRecording({ streamId }: { streamId: string }) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => deleteRecording(streamId),
    onSuccess: () => {
      dialogRef.current?.close();
      navigate(paths.history());
      queryClient.removeQueries({ queryKey: queryKeys.recording(streamId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.allStreams() });
    },
  });
  const open = () => {
    remove.reset();
    dialogRef.current?.showModal();
  };
  return (
    <>
      <button type="button" className="button button-small button-danger" onClick={open}>
        Delete recording
      </button>
      <dialog ref={dialogRef} className="dialog" aria-labelledby={headingId}>
        <h2 id={headingId}>Delete this recording?</h2>
        <p>The .cast file is deleted for good; the stream stays in the history.</p>
        {remove.isError && (
          <p className="form-error" role="alert">
            {isApiError(remove.error, 403, 'http_403') ? 'Your role may not delete recordings; only admins can.' : remove.error.message}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="button" onClick={() => dialogRef.current?.close()} autoFocus>
            Cancel
          </button>
          <button type="button" className="button button-danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
            {remove.isPending ? 'Deleting…' : 'Yes, delete'}
          </button>
        </div>
      </dialog>
    </>
  );
}
