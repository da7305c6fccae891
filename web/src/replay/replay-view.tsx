/**
 * The player's screen and controls for a downloaded recording (the replay page loads it). Opens on
 * the recording's first frame with a Play button over the screen; the screen is a focus stop with a
 * visible ring and takes the shortcuts listed under it; the recording fits the width, or is shown
 * at actual size (the screen then scrolls).
 */
import { useCallback, useEffect, useId, useRef, useState, useSyncExternalStore, type KeyboardEvent } from 'react';
import type { Me, RecordingInfo } from '../../../shared/console-api';
import { Link } from '../components/link';
import { paths } from '../router';
import type { Asciicast } from './asciicast';
import { ReplayPlayer, SPEEDS, type PlayerState } from './player';
import { formatClock } from './timeline';

/** The marker the BFF writes when a recording reaches its size budget. */
const TRUNCATED_MARKER = 'recording truncated';
/** The arrow keys on the screen move this far. */
const ARROW_SEEK_SECONDS = 5;

const noop = () => () => undefined;
const initialState: PlayerState = { status: 'paused', position: 0, duration: 0, speed: 1, skipIdle: true, seeking: false, indexed: 0, markers: [] };

function usePlayerState(player: ReplayPlayer | null): PlayerState {
  const subscribe = useCallback((cb: () => void) => (player === null ? noop() : player.subscribe(cb)), [player]);
  return useSyncExternalStore(subscribe, () => player?.getState() ?? initialState);
}

export function ReplayView({ cast, info, me, streamId }: { cast: Asciicast; info: RecordingInfo | undefined; me: Me; streamId: string }) {
  const id = useId();
  const hostRef = useRef<HTMLDivElement>(null);
  const [player, setPlayer] = useState<ReplayPlayer | null>(null);
  const state = usePlayerState(player);
  // Until the person plays or seeks, a Play button sits over the first frame.
  const [begun, setBegun] = useState(false);
  const [actualSize, setActualSize] = useState(false);

  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const p = new ReplayPlayer(host, cast);
    setPlayer(p);
    // Index on the next tick: StrictMode's throwaway first mount must not start the work.
    const timer = setTimeout(() => {
      p.start();
      void p.seek(p.firstFrameTime);
    }, 0);
    return () => {
      clearTimeout(timer);
      p.dispose();
      setPlayer(null);
    };
  }, [cast]);

  useEffect(() => player?.setActualSize(actualSize), [player, actualSize]);

  // The slider works in whole seconds, its top rounded up so End reaches the last event. It shows a
  // value it accepts as it is: a range input rounds any other to its step, and a 'change' event
  // that follows the 'input' one would then seek back to the rounded value (1.47 s → 1 s).
  const sliderMax = Math.ceil(state.duration);
  const sliderValue = state.position >= state.duration ? sliderMax : Math.round(state.position);
  // At the end the clock reads the whole length, as the slider's top does.
  const clock = state.duration > 0 && state.position >= state.duration ? formatClock(state.duration, 'up') : formatClock(state.position);

  const truncated = info?.truncated === true || state.markers.some((m) => m.label.startsWith(TRUNCATED_MARKER));
  const playing = state.status === 'playing';
  const toggle = () => {
    setBegun(true);
    player?.toggle();
  };
  const seek = (seconds: number) => {
    setBegun(true);
    void player?.seek(seconds);
  };

  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    if (player === null || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === ' ' || ev.key === 'k') toggle();
    else if (ev.key === 'ArrowLeft') seek(state.position - ARROW_SEEK_SECONDS);
    else if (ev.key === 'ArrowRight') seek(state.position + ARROW_SEEK_SECONDS);
    else if (ev.key === 'Home') seek(0);
    else if (ev.key === 'End') seek(state.duration);
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

      <div className="replay-stage">
        <div
          ref={hostRef}
          className={actualSize ? 'replay-screen replay-screen-actual' : 'replay-screen'}
          role="region"
          aria-label="Recording"
          aria-describedby={`${id}-keys`}
          // The screen is the focus stop for the shortcuts (xterm's own input is taken out of the tab order).
          tabIndex={0}
          onKeyDown={onKeyDown}
        />
        {!begun && !playing && player !== null && (
          <button
            type="button"
            className="replay-big-play"
            onClick={() => {
              toggle();
              // The button goes away: focus moves to the screen, whose keys go on controlling playback.
              hostRef.current?.focus();
            }}
          >
            <span aria-hidden="true">▶</span> Play recording
          </button>
        )}
      </div>

      <div className="replay-controls">
        <button type="button" className="button button-small button-dark replay-play" onClick={toggle} disabled={player === null}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          className="replay-seek"
          aria-label="Seek"
          min={0}
          max={sliderMax}
          step={1}
          value={sliderValue}
          aria-valuetext={`${clock} of ${formatClock(state.duration, 'up')}`}
          onChange={(e) => {
            const to = Number(e.target.value);
            if (to !== sliderValue) seek(to);
          }}
          disabled={player === null || state.duration === 0}
        />
        <span className="replay-time">
          {clock} / {formatClock(state.duration, 'up')}
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
        <span className="replay-field">
          <input id={`${id}-actual`} type="checkbox" checked={actualSize} onChange={(e) => setActualSize(e.target.checked)} aria-describedby={`${id}-actual-note`} />
          <label htmlFor={`${id}-actual`}>Actual size</label>
          <span id={`${id}-actual-note`} className="visually-hidden">
            Off: the recording is scaled to fit the screen. On: full-size text, the screen scrolls.
          </span>
        </span>
        <span className="replay-indexing" aria-live="off">
          {state.seeking ? 'Seeking…' : state.indexed < 1 ? `Preparing fast seek… ${Math.floor(state.indexed * 100)}%` : ''}
        </span>
      </div>

      <p className="replay-keys" id={`${id}-keys`}>
        Keys on the screen: <kbd>Space</kbd> or <kbd>K</kbd> play and pause · <kbd>←</kbd> <kbd>→</kbd> {ARROW_SEEK_SECONDS} s back and forward ·{' '}
        <kbd>Home</kbd> <kbd>End</kbd> start and end
      </p>

      {state.markers.length > 0 && (
        // Collapsed: a recording normally has one marker (the truncation), but could have many.
        <details className="replay-markers">
          <summary>Markers ({state.markers.length})</summary>
          <ul>
            {state.markers.map((m, i) => (
              <li key={i}>
                <button type="button" className="button button-small button-dark" onClick={() => seek(m.time)}>
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
