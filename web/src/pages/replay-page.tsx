/**
 * The player of one terminal session's recording. Loaded lazily (it pulls in xterm.js). The page
 * fetches what the server knows about the recording and downloads the .cast file (with progress);
 * the ReplayPlayer (replay/player.ts) does the playing, the page only shows its state and forwards
 * the controls.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useId, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react';
import type { Me, RecordingInfo } from '../../../shared/console-api';
import { deleteRecording, isApiError, queryKeys, recordingCastUrl } from '../api';
import { Link } from '../components/link';
import { LoadingState } from '../components/states';
import { formatBytes, formatDateTime, shortStreamId } from '../format';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useCastDownload, useRecording } from '../hooks/use-recording';
import { navigate, paths } from '../router';
import type { Asciicast } from '../replay/asciicast';
import { describePlayError } from '../replay/play-error';
import { ReplayPlayer, SPEEDS, type PlayerState } from '../replay/player';
import { formatClock } from '../replay/timeline';
import '../terminal/terminal.css';
import '../replay/replay.css';

/** The marker the BFF writes when a recording reaches its size budget. */
const TRUNCATED_MARKER = 'recording truncated';
/** The arrow keys on the screen move this far. */
const ARROW_SEEK_SECONDS = 5;

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

const noop = () => () => undefined;
const initialState: PlayerState = { status: 'paused', position: 0, duration: 0, speed: 1, skipIdle: true, seeking: false, indexed: 0, markers: [] };

function usePlayerState(player: ReplayPlayer | null): PlayerState {
  const subscribe = useCallback((cb: () => void) => (player === null ? noop() : player.subscribe(cb)), [player]);
  return useSyncExternalStore(subscribe, () => player?.getState() ?? initialState);
}

function ReplayView({ cast, info, me, streamId }: { cast: Asciicast; info: RecordingInfo | undefined; me: Me; streamId: string }) {
  const id = useId();
  const hostRef = useRef<HTMLDivElement>(null);
  const [player, setPlayer] = useState<ReplayPlayer | null>(null);
  const state = usePlayerState(player);

  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const p = new ReplayPlayer(host, cast);
    setPlayer(p);
    // Index on the next tick: StrictMode's throwaway first mount must not start the work.
    const timer = setTimeout(() => {
      p.start();
      void p.seek(0);
    }, 0);
    return () => {
      clearTimeout(timer);
      p.dispose();
      setPlayer(null);
    };
  }, [cast]);

  const truncated = info?.truncated === true || state.markers.some((m) => m.label.startsWith(TRUNCATED_MARKER));
  const playing = state.status === 'playing';

  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    if (player === null || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === ' ' || ev.key === 'k') player.toggle();
    else if (ev.key === 'ArrowLeft') void player.seek(state.position - ARROW_SEEK_SECONDS);
    else if (ev.key === 'ArrowRight') void player.seek(state.position + ARROW_SEEK_SECONDS);
    else return;
    ev.preventDefault();
  };

  return (
    <>
      <div className="replay-banners">
        {truncated && <p className="banner banner-warn">Recording truncated at the size budget; the session went on.</p>}
        {info?.inputRecorded === true && (
          <p className="banner banner-info">Keystrokes were recorded in this session (input recording was on); they may include passwords.</p>
        )}
        {info?.live === true && (
          <p className="banner banner-info">
            This session is still going on; this is the recording up to when the page loaded.
            {me.role === 'admin' && (
              <>
                {' '}
                <Link to={paths.watch(streamId)}>Watch it live</Link>
              </>
            )}
          </p>
        )}
        {cast.warnings.map((w) => (
          <p key={w.code} className="banner banner-info">
            The last line of the file was incomplete (still being written) and was skipped.
          </p>
        ))}
      </div>

      <div ref={hostRef} className="replay-screen" role="region" aria-label="Recording" onKeyDown={onKeyDown} />

      <div className="replay-controls">
        <button type="button" className="button button-small button-dark replay-play" onClick={() => player?.toggle()} disabled={player === null}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          className="replay-seek"
          aria-label="Seek"
          min={0}
          max={state.duration}
          step={0.1}
          value={Math.min(state.position, state.duration)}
          aria-valuetext={`${formatClock(state.position)} of ${formatClock(state.duration)}`}
          onChange={(e) => void player?.seek(Number(e.target.value))}
          disabled={player === null || state.duration === 0}
        />
        <span className="replay-time">
          {formatClock(state.position)} / {formatClock(state.duration)}
        </span>
        <span className="replay-field">
          <label htmlFor={`${id}-speed`}>Speed</label>
          <select id={`${id}-speed`} value={String(state.speed)} onChange={(e) => player?.setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={String(s)}>
                {s}×
              </option>
            ))}
          </select>
        </span>
        <span className="replay-field">
          <input id={`${id}-idle`} type="checkbox" checked={state.skipIdle} onChange={(e) => player?.setSkipIdle(e.target.checked)} />
          <label htmlFor={`${id}-idle`}>Skip idle gaps</label>
        </span>
        <span className="replay-indexing" aria-live="off">
          {state.seeking ? 'Seeking…' : state.indexed < 1 ? `Preparing fast seek… ${Math.floor(state.indexed * 100)}%` : ''}
        </span>
      </div>

      {state.markers.length > 0 && (
        // Collapsed: a recording normally has one marker (the truncation), but could have many.
        <details className="replay-markers">
          <summary>Markers ({state.markers.length})</summary>
          <ul>
            {state.markers.map((m, i) => (
              <li key={i}>
                <button type="button" className="button button-small button-dark" onClick={() => void player?.seek(m.time)}>
                  {formatClock(m.time)} {m.label}
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
    </>
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
