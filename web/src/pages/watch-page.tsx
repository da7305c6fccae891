/**
 * An admin watching a live terminal session, read-only. Loaded lazily (xterm.js). The page mounts
 * a WatchSession (terminal/watch-session.ts) and shows its status; nothing typed here reaches the
 * session.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Me } from '../../../shared/console-api';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { queryKeys } from '../api';
import { Link } from '../components/link';
import { shortStreamId } from '../format';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useRecording } from '../hooks/use-recording';
import { paths } from '../router';
import { WatchSession, type WatchState } from '../terminal/watch-session';
import '../terminal/terminal.css';
import '../replay/replay.css';

const noop = () => () => undefined;
const initialState: WatchState = { phase: 'connecting', message: 'Connecting…', closeCode: null, opened: false, canReconnect: false, cols: 80, rows: 24 };

function useWatchState(session: WatchSession | null): WatchState {
  const subscribe = useCallback((cb: () => void) => (session === null ? noop() : session.subscribe(cb)), [session]);
  return useSyncExternalStore(subscribe, () => session?.getState() ?? initialState);
}

export default function WatchPage({ streamId, me }: { streamId: string; me: Me }) {
  const info = useRecording(streamId);
  const name = info.data?.deviceId ?? shortStreamId(streamId);
  useDocumentTitle(`Live · ${name}`);
  return (
    <main className="replay-page">
      {me.role === 'admin' ? (
        <WatchView streamId={streamId} name={name} />
      ) : (
        <div className="replay-message">
          <div className="state state-error" role="alert">
            <p>Your role may not watch live sessions; only admins can.</p>
          </div>
          <p>
            <Link to={paths.history()}>Back to the history</Link>
          </p>
        </div>
      )}
    </main>
  );
}

function WatchView({ streamId, name }: { streamId: string; name: string }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [session, setSession] = useState<WatchSession | null>(null);
  const state = useWatchState(session);
  const queryClient = useQueryClient();

  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const s = new WatchSession(host, { streamId });
    setSession(s);
    // Connect on the next tick, so StrictMode's throwaway first mount opens no socket.
    const timer = setTimeout(() => s.connect(), 0);
    return () => {
      clearTimeout(timer);
      s.dispose();
      setSession(null);
    };
  }, [streamId]);

  // A refused upgrade or a logout: asking who we are sends the person to login if the session is gone.
  const { phase, opened, closeCode } = state;
  useEffect(() => {
    if (phase !== 'closed') return;
    if (!opened || closeCode === ConsoleCloseCode.LoggedOut || closeCode === ConsoleCloseCode.Revoked || closeCode === ConsoleCloseCode.Forbidden) {
      void queryClient.invalidateQueries({ queryKey: queryKeys.me() });
    }
    // The history's "live" badges and the recording's size have changed.
    void queryClient.invalidateQueries({ queryKey: queryKeys.recording(streamId) });
    void queryClient.invalidateQueries({ queryKey: queryKeys.allStreams() });
  }, [phase, opened, closeCode, queryClient, streamId]);

  const closed = state.phase === 'closed';
  return (
    <>
      <div className="replay-bar">
        <h1 className="replay-title">
          Live · <span className="mono">{name}</span>
        </h1>
        <span className="badge badge-live">Live — read-only</span>
        <span className={`phase-dot phase-${state.phase === 'live' ? 'connected' : state.phase}`} aria-hidden="true" />
        <div className="terminal-status" role="status" aria-live="polite">
          {state.message}
        </div>
        <div className="replay-actions">
          {closed && <Link to={paths.replay(streamId)}>Replay the recording</Link>}
          {closed && state.canReconnect && (
            <button type="button" className="button button-small button-dark" onClick={() => session?.reconnect()}>
              Reconnect
            </button>
          )}
        </div>
      </div>
      <div ref={hostRef} className="replay-screen" role="region" aria-label="Live session" tabIndex={0} />
    </>
  );
}
