/**
 * What a terminal that has ended shows over its dimmed screen: why, in plain words, what would fix
 * it, and the actions. A clean end (the shell exited 0) is told apart from a failure by its title
 * and colour. A session another tab or window took over has not ended: its shell runs on there, so
 * the view says where it went and offers to take it back (Reattach) first; a new shell is the
 * lesser choice. Not a status region: the page's status line already announces the reason.
 */
import type { Ref } from 'react';
import type { EndTone } from '../terminal/close-reason';
import { paths } from '../router';
import { Link } from './link';

const titles: Record<EndTone, string> = {
  clean: 'Session closed',
  neutral: 'Session ended',
  elsewhere: 'Open in another tab or window',
  failed: 'No terminal',
};

const marks: Record<EndTone, string> = { clean: '✓', neutral: '■', elsewhere: '↗', failed: '!' };

export interface TerminalEndedProps {
  tone: EndTone;
  /** The reason, as the status line says it. */
  reason: string;
  hint: string | null;
  canReattach: boolean;
  /** Starts a new session (a new shell). */
  onReconnect: () => void;
  onReattach: () => void;
  /** Focus lands here when the session ends: on the main action (Reconnect, or Reattach when taken over). */
  primaryRef: Ref<HTMLButtonElement>;
}

export function TerminalEnded(p: TerminalEndedProps) {
  const takeBack = p.tone === 'elsewhere' && p.canReattach;
  return (
    <section className={`terminal-ended terminal-ended-${p.tone}`} aria-labelledby="terminal-ended-title">
      <h2 id="terminal-ended-title" className="terminal-ended-title">
        <span className="terminal-ended-mark" aria-hidden="true">
          {marks[p.tone]}
        </span>
        {titles[p.tone]}
      </h2>
      <p className="terminal-ended-reason">{p.reason}</p>
      {p.hint !== null && <p className="terminal-ended-hint">{p.hint}</p>}
      <p className="terminal-ended-input">{takeBack ? 'Input is off here until you reattach.' : 'Input is off: keystrokes go nowhere until you reconnect.'}</p>
      {takeBack ? (
        <div className="terminal-ended-actions">
          <button ref={p.primaryRef} type="button" className="button button-small button-primary" onClick={p.onReattach} title="Take this session back from the tab or window that has it">
            Reattach
          </button>
          <button type="button" className="button button-small" onClick={p.onReconnect} title="Another shell on this device; the one in the other tab goes on">
            Start a new shell
          </button>
          <BackToDevices />
        </div>
      ) : (
        <div className="terminal-ended-actions">
          <button ref={p.primaryRef} type="button" className="button button-small button-primary" onClick={p.onReconnect}>
            Reconnect
          </button>
          {p.canReattach && (
            <button type="button" className="button button-small" onClick={p.onReattach} title="Take this session back from the tab or window that has it">
              Reattach
            </button>
          )}
          <BackToDevices />
        </div>
      )}
    </section>
  );
}

function BackToDevices() {
  return (
    <Link to={paths.devices()} className="button button-small">
      Back to devices
    </Link>
  );
}
