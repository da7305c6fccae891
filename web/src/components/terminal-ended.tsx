/**
 * What a terminal that has ended shows over its dimmed screen: why, in plain words, what would fix
 * it, and the actions. A clean end (the shell exited 0) is told apart from a failure by its title
 * and colour. Not a status region: the page's status line already announces the reason.
 */
import type { Ref } from 'react';
import type { EndTone } from '../terminal/close-reason';
import { paths } from '../router';
import { Link } from './link';

const titles: Record<EndTone, string> = {
  clean: 'Session closed',
  neutral: 'Session ended',
  failed: 'No terminal',
};

export interface TerminalEndedProps {
  tone: EndTone;
  /** The reason, as the status line says it. */
  reason: string;
  hint: string | null;
  canReattach: boolean;
  onReconnect: () => void;
  onReattach: () => void;
  /** Focus lands here when the session ends. */
  reconnectRef: Ref<HTMLButtonElement>;
}

export function TerminalEnded(p: TerminalEndedProps) {
  return (
    <section className={`terminal-ended terminal-ended-${p.tone}`} aria-labelledby="terminal-ended-title">
      <h2 id="terminal-ended-title" className="terminal-ended-title">
        <span className="terminal-ended-mark" aria-hidden="true">
          {p.tone === 'clean' ? '✓' : p.tone === 'neutral' ? '■' : '!'}
        </span>
        {titles[p.tone]}
      </h2>
      <p className="terminal-ended-reason">{p.reason}</p>
      {p.hint !== null && <p className="terminal-ended-hint">{p.hint}</p>}
      <p className="terminal-ended-input">Input is off: keystrokes go nowhere until you reconnect.</p>
      <div className="terminal-ended-actions">
        <button
          ref={p.reconnectRef}
          type="button"
          className="button button-small button-primary"
          onClick={p.onReconnect}
        >
          Reconnect
        </button>
        {p.canReattach && (
          <button type="button" className="button button-small" onClick={p.onReattach} title="Take this session back from the tab or window that has it">
            Reattach
          </button>
        )}
        <Link to={paths.devices()} className="button button-small">
          Back to devices
        </Link>
      </div>
    </section>
  );
}
