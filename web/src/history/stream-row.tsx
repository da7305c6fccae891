import type { ConsoleStream, Me } from '../../../shared/console-api';
import { Link } from '../components/link';
import { formatBytes, formatDateTime, formatDateTimeShort, formatDuration, shortStreamId } from '../format';
import { paths } from '../router';
import { mayReplay } from './replay-access';
import { closerWords, isFailedAttempt, resultWords } from './stream-words';
import { TransferLabel } from './transfer-label';

const resultClass: Record<string, string> = {
  accepted: 'badge-online',
  rejected: 'badge-warn',
  throttled: 'badge-warn',
};

/**
 * One stream of the history. On a phone the table's rows become cards (styles.css), each cell
 * named by its data-label.
 */
export function StreamRow({ stream: s, me }: { stream: ConsoleStream; me: Me }) {
  const result = s.result ?? s.state;
  const closer = closerWords(s);
  const short = shortStreamId(s.streamId);
  return (
    <tr>
      <th scope="row" className="mono">
        {/* Cut short on screen by CSS only (styles.css .cell-id): the text, the row's name and a copy keep the whole id. */}
        <span className="cell-id stream-device" title={s.deviceId}>
          {s.deviceId}
        </span>{' '}
        <span className="sub">{s.streamName}</span>
        <TransferLabel stream={s} />
      </th>
      <td data-label="Operator">{s.operator ?? <span className="muted" title="Opened by a client other than the console">{s.initiator}</span>}</td>
      <td data-label="Started">
        <time dateTime={s.createdAt} title={formatDateTime(s.createdAt)}>
          {formatDateTimeShort(s.createdAt)}
        </time>
      </td>
      <td data-label="Duration">
        {s.state !== 'ended' ? (
          <span className="badge badge-live">{s.state === 'open' ? 'live' : s.state}</span>
        ) : isFailedAttempt(s) ? (
          // A failed attempt carried no session; its "duration" was only the wait for an answer.
          <span className="muted">—</span>
        ) : (
          formatDuration(s.durationMs)
        )}
      </td>
      <td data-label="Result" className="wrap">
        <span className={`badge ${resultClass[result] ?? (s.result === null ? 'badge-neutral' : 'badge-error')}`}>{resultWords(s)}</span>
        <StreamDetails stream={s} short={short} />
      </td>
      <td data-label="Closed by" className="wrap">
        {closer ?? <span className="muted">—</span>}
      </td>
      <td data-label="Traffic" className="num">
        <span className="traffic" title="Bytes sent to the device">
          ↑ {formatBytes(s.bytesToDevice)}
          <span className="visually-hidden"> to the device</span>
        </span>
        <span className="traffic" title="Bytes received from the device">
          ↓ {formatBytes(s.bytesFromDevice)}
          <span className="visually-hidden"> from the device</span>
        </span>
      </td>
      <td data-label="Recording">
        <RecordingCell stream={s} me={me} short={short} />
      </td>
    </tr>
  );
}

/** The log's own codes, for searching logs: the result code, the close code, the reason, the stream id. */
function StreamDetails({ stream: s, short }: { stream: ConsoleStream; short: string }) {
  return (
    <details className="stream-details">
      <summary>
        Details<span className="visually-hidden"> of stream {short}</span>
      </summary>
      <dl>
        <dt>Stream</dt>
        <dd className="mono">{s.streamId}</dd>
        <dt>Result code</dt>
        <dd className="mono">{s.result ?? s.state}</dd>
        {s.closedBy !== null && (
          <>
            <dt>Closed by</dt>
            <dd className="mono">
              {s.closedBy}
              {s.closeCode !== null ? ` ${s.closeCode}` : ''}
            </dd>
          </>
        )}
        {s.reason !== null && (
          <>
            <dt>Reason</dt>
            <dd>{s.reason}</dd>
          </>
        )}
      </dl>
    </details>
  );
}

/**
 * Replay where the role may replay it (else a muted note), Watch while live for admins, the size,
 * and whether the budget cut it short.
 */
function RecordingCell({ stream: s, me, short }: { stream: ConsoleStream; me: Me; short: string }) {
  const rec = s.recording;
  if (rec === null) return <span className="muted">—</span>;
  return (
    <span className="recording-cell">
      {/* The names carry the stream, so each row's links can be told apart. */}
      {mayReplay(me, s) ? (
        <Link to={paths.replay(s.streamId)} aria-label={`Replay ${short}`}>
          Replay
        </Link>
      ) : (
        <span className="muted" title="Operators replay their own sessions; admins and viewers replay any">
          Not yours to replay
        </span>
      )}
      <span className="muted">{formatBytes(rec.size)}</span>
      {rec.truncated && (
        <span className="badge badge-warn" title="The recording stopped at the size budget; the session went on">
          truncated
        </span>
      )}
      {rec.live && me.role === 'admin' && (
        <Link to={paths.watch(s.streamId)} aria-label={`Watch ${short}`}>
          Watch
        </Link>
      )}
    </span>
  );
}
