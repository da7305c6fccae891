/**
 * The resumable terminal sessions of the signed-in operator (an admin may show everyone's): a page
 * closed, a network lost or a laptop asleep leaves the shell running on the device for a while,
 * and this panel reattaches it here, from another tab or another browser, or ends it. Shown only
 * when there is something in it; viewers open no terminals, so never to them.
 */
import { useId, useState } from 'react';
import type { Me, TerminalSessionInfo } from '../../../shared/console-api';
import { formatDateTime, formatRelative } from '../format';
import { useNow } from '../hooks/use-now';
import { useEndTerminalSession, useTerminalSessions } from '../hooks/use-terminal-sessions';
import { paths } from '../router';
import { Link } from './link';

export function TerminalSessionsPanel({ me }: { me: Me }) {
  const id = useId();
  const admin = me.role === 'admin';
  const [everyone, setEveryone] = useState(false);
  const sessions = useTerminalSessions(admin && everyone, me.role !== 'viewer');
  const end = useEndTerminalSession();
  const now = useNow(5000);
  // A detached session past its expiry has ended on its device: it leaves the list as time passes.
  const list = sessions.data?.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now);
  if (me.role === 'viewer' || list === undefined || (list.length === 0 && !everyone)) return null;
  const others = admin && everyone;
  return (
    <section className="sessions-panel" aria-labelledby={`${id}-title`}>
      <div className="sessions-head">
        <h2 id={`${id}-title`}>Terminal sessions</h2>
        <p className="muted">A session goes on running on its device for a while after its page closes; reattach it here, or end it.</p>
        {admin && (
          <label className="check">
            <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.target.checked)} /> Everyone’s
          </label>
        )}
      </div>
      {end.isError && (
        <p className="inline-warning" role="alert">
          Could not end the session: {end.error.message}
        </p>
      )}
      <div className="table-wrap">
        <table className="table table-dense table-cards">
          <caption className="visually-hidden">{others ? 'Terminal sessions of every operator' : 'Your terminal sessions'}</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              {others && <th scope="col">Operator</th>}
              <th scope="col">Started</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.length === 0 ? (
              <tr>
                <td colSpan={others ? 5 : 4} className="no-match">
                  No terminal session is running.
                </td>
              </tr>
            ) : (
              list.map((s) => <SessionRow key={s.sessionId} session={s} mine={s.operator === me.name} showOperator={others} now={now} ending={end.isPending && end.variables === s.sessionId} onEnd={() => end.mutate(s.sessionId)} />)
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SessionRow({ session: s, mine, showOperator, now, ending, onEnd }: { session: TerminalSessionInfo; mine: boolean; showOperator: boolean; now: number; ending: boolean; onEnd: () => void }) {
  return (
    <tr>
      <th scope="row" className="mono">
        {/* Cut short on screen by CSS only (styles.css .cell-id): the text, the row's name and a copy keep the whole id. */}
        <span className="cell-id" title={s.deviceId}>
          {s.deviceId}
        </span>
      </th>
      {showOperator && <td data-label="Operator">{s.operator}</td>}
      <td data-label="Started">
        <time dateTime={s.createdAt} title={formatDateTime(s.createdAt)}>
          {formatRelative(s.createdAt, now)}
        </time>
      </td>
      <td data-label="State">
        {s.attached || s.detachedAt === null || s.expiresAt === null ? (
          <span className="badge badge-online">Open in a page</span>
        ) : (
          <span>
            Detached {formatRelative(s.detachedAt, now)} · <span title={formatDateTime(s.expiresAt)}>ends {formatRelative(s.expiresAt, now)}</span>
          </span>
        )}
      </td>
      <td className="actions">
        {mine && (
          <Link to={paths.terminal(s.deviceId, s.sessionId)} className="button button-small button-primary" aria-label={`Reattach the session on ${s.deviceId}`}>
            {s.attached ? 'Take over' : 'Reattach'}
          </Link>
        )}{' '}
        <button type="button" className="button button-small" onClick={onEnd} disabled={ending} aria-label={`End the session on ${s.deviceId}`}>
          {ending ? 'Ending…' : 'End'}
        </button>
      </td>
    </tr>
  );
}
