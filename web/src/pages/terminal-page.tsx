/**
 * The live terminal on one device. Loaded lazily (it pulls in xterm.js). The component only mounts
 * a TerminalSession, shows its state and forwards button presses; the session does the rest.
 *
 * The URL names the session once the device has announced it (`?session=…`, replaced in place),
 * so a reload, a copy of the address in another tab or the sessions list reattach that session;
 * the Devices page's Connect opens a new one.
 *
 * Keyboard: Esc then Tab leaves the terminal (leave-terminal.ts; the status line says so), and when
 * the session ends focus moves to the ended view's main action (Reconnect, or Reattach). Viewers
 * open no terminals: theirs is no-terminal-page.tsx.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { ConsoleCloseCode } from '../../../shared/console-protocol';
import { queryKeys } from '../api';
import { FileTransferButton } from '../components/file-transfer-panel';
import { RecordingIndicator } from '../components/recording-indicator';
import { TerminalEnded } from '../components/terminal-ended';
import { useDocumentTitle } from '../hooks/use-document-title';
import { paths } from '../router';
import { LEAVE_KEY_TEXT } from '../terminal/leave-terminal';
import { initialSessionState, type SessionState } from '../terminal/session-state';
import { TerminalSession } from '../terminal/terminal-session';
import '../terminal/terminal.css';

const noop = () => () => undefined;
const initialState = initialSessionState(null);

/** The session the address names, read once when the page mounts. */
function sessionInUrl(): string | undefined {
  const id = new URLSearchParams(window.location.search).get('session');
  return id !== null && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

function useSessionState(session: TerminalSession | null): SessionState {
  const subscribe = useCallback((cb: () => void) => (session === null ? noop() : session.subscribe(cb)), [session]);
  return useSyncExternalStore(subscribe, () => session?.getState() ?? initialState);
}

export default function TerminalPage({ deviceId }: { deviceId: string }) {
  useDocumentTitle(`Terminal · ${deviceId}`);
  const hostRef = useRef<HTMLDivElement>(null);
  const primaryRef = useRef<HTMLButtonElement>(null);
  const [session, setSession] = useState<TerminalSession | null>(null);
  const state = useSessionState(session);
  const queryClient = useQueryClient();
  const [copied, setCopied] = useState<'copied' | 'nothing' | null>(null);

  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const s = new TerminalSession(host, {
      deviceId,
      sessionId: sessionInUrl(),
      // In place, without a navigation: the page stays mounted and the session connected.
      onSession: (id) => window.history.replaceState(window.history.state, '', paths.terminal(deviceId, id)),
    });
    setSession(s);
    s.focus();
    // Connect on the next tick: React's StrictMode mounts, unmounts and mounts again at once in
    // development, and the throwaway first mount must not ask the device for a stream.
    const timer = setTimeout(() => s.connect(), 0);
    return () => {
      clearTimeout(timer);
      s.dispose();
      setSession(null);
    };
  }, [deviceId]);

  // A refused upgrade (stale cookie) or a logout elsewhere ends the socket; asking the server who
  // we are sends the person to the login page when the session is really gone.
  const { phase, closeCode, opened } = state;
  useEffect(() => {
    if (phase !== 'closed') return;
    if (!opened || closeCode === ConsoleCloseCode.LoggedOut || closeCode === ConsoleCloseCode.Revoked || closeCode === ConsoleCloseCode.Forbidden) {
      void queryClient.invalidateQueries({ queryKey: queryKeys.me() });
    }
  }, [phase, closeCode, opened, queryClient]);

  useEffect(() => {
    if (copied === null) return;
    const timer = setTimeout(() => setCopied(null), 1500);
    return () => clearTimeout(timer);
  }, [copied]);

  const onCopy = () => {
    if (session === null) return;
    void session.copySelection().then((ok) => {
      setCopied(ok ? 'copied' : 'nothing');
      session.focus();
    });
  };

  const closed = state.phase === 'closed';
  const reattachable = closed && state.canReattach;

  // The session ended: focus goes to the ended view's main action (Reconnect, or Reattach when
  // another tab took the session over), out of a terminal that takes no more input.
  useEffect(() => {
    if (phase === 'closed') primaryRef.current?.focus();
  }, [phase]);

  return (
    <main className="terminal-page">
      <div className="terminal-bar">
        <h1 className="terminal-title mono">{deviceId}</h1>
        <span className={`phase-dot phase-${state.phase}${closed ? ` phase-end-${state.tone ?? 'failed'}` : ''}`} aria-hidden="true" />
        <div className="terminal-status" role="status" aria-live="polite">
          {state.message}
        </div>
        <span className="rtt" title="Round trip from this page to the console server and back">
          {state.rttMs !== null ? `RTT ${state.rttMs} ms` : ''}
        </span>
        <span className="copied" aria-live="polite">
          {copied === 'copied' ? 'Copied' : copied === 'nothing' ? 'Nothing selected' : ''}
        </span>
        <span className="terminal-notice" aria-live="polite">
          {state.notice ?? ''}
        </span>
        <RecordingIndicator shown={state.recorded} />
        <span className="terminal-leave-hint" id="terminal-leave-hint">
          {closed ? 'Tab leaves the terminal' : `${LEAVE_KEY_TEXT} leaves the terminal`}
        </span>
        <div className="terminal-actions">
          <FileTransferButton deviceId={deviceId} />
          <button type="button" className="button button-small button-dark" onClick={onCopy} title="Copy the selection (Ctrl+Shift+C)">
            Copy
          </button>
        </div>
      </div>
      <div className="terminal-stage">
        <div
          ref={hostRef}
          className={closed ? 'terminal-host terminal-host-ended' : 'terminal-host'}
          role="region"
          aria-label="Terminal"
          aria-describedby="terminal-leave-hint"
        />
        {closed && (
          <TerminalEnded
            tone={state.tone ?? 'failed'}
            reason={state.message}
            hint={state.hint}
            canReattach={reattachable}
            onReconnect={() => session?.restart()}
            onReattach={() => session?.reattach()}
            primaryRef={primaryRef}
          />
        )}
      </div>
    </main>
  );
}
