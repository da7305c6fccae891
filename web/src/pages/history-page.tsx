import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { Me } from '../../../shared/console-api';
import { STREAM_RESULTS, type StreamFilters } from '../api';
import { EmptyState, ErrorState, LoadingState } from '../components/states';
import { fromLocalInputValue, toLocalInputValue } from '../format';
import { StreamRow } from '../history/stream-row';
import '../history/history.css';
import { resultCodeWords } from '../history/stream-words';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useStreams } from '../hooks/use-streams';
import { navigate, paths, useLocation } from '../router';

/** The filters as they sit in the page's URL (`?device=&result=&operator=&since=&until=`, times ISO). */
interface UrlFilters {
  device: string;
  result: string;
  operator: string;
  since: string;
  until: string;
}

const FILTER_KEYS = ['device', 'result', 'operator', 'since', 'until'] as const;
/** Typing in a text filter updates the URL (and asks the server) once the typing pauses. */
const TEXT_FILTER_DEBOUNCE_MS = 300;

function readFilters(search: string): UrlFilters {
  const q = new URLSearchParams(search);
  return {
    device: q.get('device') ?? '',
    result: q.get('result') ?? '',
    operator: q.get('operator') ?? '',
    since: q.get('since') ?? '',
    until: q.get('until') ?? '',
  };
}

function writeFilters(f: UrlFilters): void {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k] !== '') q.set(k, f[k]);
  const s = q.toString();
  // replace, not push: each keystroke in a filter should not become a Back step.
  navigate(s === '' ? paths.history() : `${paths.history()}?${s}`, { replace: true });
}

function isoToMs(iso: string): number | undefined {
  if (iso === '') return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

function toApiFilters(f: UrlFilters): StreamFilters {
  return {
    deviceId: f.device.trim() || undefined,
    result: f.result || undefined,
    operator: f.operator.trim() || undefined,
    since: isoToMs(f.since),
    until: isoToMs(f.until),
  };
}

/** Every stream, newest first, with filters bound to the URL and "Older" paging. */
export function HistoryPage({ me }: { me: Me }) {
  useDocumentTitle('History');
  // Labels point at their controls with htmlFor rather than wrapping them: a wrapped <select>
  // would lend its option texts ("deviceNotFound"…) to the label and blur "Device" vs "Result".
  const id = useId();
  const { search } = useLocation();
  const filters = useMemo(() => readFilters(search), [search]);
  const apiFilters = useMemo(() => toApiFilters(filters), [filters]);
  const streams = useStreams(apiFilters);
  const rows = useMemo(() => streams.data?.pages.flatMap((p) => p.streams) ?? [], [streams.data]);
  const filtered = FILTER_KEYS.some((k) => filters[k] !== '');

  // Text filters: a local draft, committed to the URL after a pause in typing.
  const [draft, setDraft] = useState({ device: filters.device, operator: filters.operator });
  const committed = useRef({ device: filters.device, operator: filters.operator });
  useEffect(() => {
    if (draft.device === committed.current.device && draft.operator === committed.current.operator) return;
    const timer = setTimeout(() => {
      committed.current = draft;
      writeFilters({ ...readFilters(window.location.search), ...draft });
    }, TEXT_FILTER_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [draft]);
  // The URL changed from elsewhere (Back, a link, Clear): the inputs follow it.
  useEffect(() => {
    if (filters.device !== committed.current.device || filters.operator !== committed.current.operator) {
      committed.current = { device: filters.device, operator: filters.operator };
      setDraft(committed.current);
    }
  }, [filters.device, filters.operator]);

  const setTime = (key: 'since' | 'until', value: string) => {
    const ms = fromLocalInputValue(value);
    writeFilters({ ...filters, [key]: ms === undefined ? '' : new Date(ms).toISOString() });
  };
  const timeValue = (iso: string) => {
    const ms = isoToMs(iso);
    return ms === undefined ? '' : toLocalInputValue(ms);
  };

  return (
    <main className="page">
      <div className="page-head">
        <div>
          <h1>History</h1>
          <p className="muted">Every stream to every device, newest first.</p>
        </div>
      </div>

      <form className="filters" role="search" aria-label="Filter streams" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={`${id}-device`}>Device</label>
          <input id={`${id}-device`} type="text" value={draft.device} spellCheck={false} onChange={(e) => setDraft({ ...draft, device: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-result`}>Result</label>
          <select id={`${id}-result`} value={filters.result} onChange={(e) => writeFilters({ ...filters, result: e.target.value })}>
            <option value="">Any result</option>
            {STREAM_RESULTS.map((r) => (
              <option key={r} value={r}>
                {resultCodeWords(r)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-operator`}>Operator</label>
          <input id={`${id}-operator`} type="text" value={draft.operator} spellCheck={false} onChange={(e) => setDraft({ ...draft, operator: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-since`}>Since</label>
          <input id={`${id}-since`} type="datetime-local" value={timeValue(filters.since)} onChange={(e) => setTime('since', e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-until`}>Until</label>
          <input id={`${id}-until`} type="datetime-local" value={timeValue(filters.until)} onChange={(e) => setTime('until', e.target.value)} />
        </div>
        {filtered && (
          <button type="button" className="button button-quiet" onClick={() => writeFilters({ device: '', result: '', operator: '', since: '', until: '' })}>
            Clear filters
          </button>
        )}
      </form>

      {streams.isPending ? (
        <LoadingState>Loading streams…</LoadingState>
      ) : streams.isError && rows.length === 0 ? (
        <ErrorState title="Could not load the stream history." error={streams.error} onRetry={() => void streams.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState>
          <p>{filtered ? 'No streams match these filters.' : 'No streams yet — open a terminal on a device and it will show here.'}</p>
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table table-dense table-cards table-sticky-ends">
              <caption className="visually-hidden">Streams, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Operator</th>
                  <th scope="col">Started</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Result</th>
                  <th scope="col">Closed by</th>
                  <th scope="col" className="num">
                    Traffic
                  </th>
                  <th scope="col">Recording</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => (
                  <StreamRow key={s.streamId} stream={s} me={me} />
                ))}
              </tbody>
            </table>
          </div>
          {streams.isFetchNextPageError && (
            <p className="inline-warning" role="alert">
              Could not load older streams: {streams.error?.message}
            </p>
          )}
          <div className="pager">
            {streams.hasNextPage ? (
              <button type="button" className="button" onClick={() => void streams.fetchNextPage()} disabled={streams.isFetchingNextPage}>
                {streams.isFetchingNextPage ? 'Loading…' : 'Older'}
              </button>
            ) : (
              <span className="muted">
                {rows.length} stream{rows.length === 1 ? '' : 's'} · end of history
              </span>
            )}
          </div>
        </>
      )}
    </main>
  );
}
