import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { DeviceSummary, Me } from '../../../shared/console-api';
import { DEVICE_ID_PATTERN } from '../../../shared/limits';
import type { DeviceFilters } from '../api';
import { TerminalSessionsPanel } from '../components/terminal-sessions';
import { AddDeviceDialog } from '../components/add-device-dialog';
import { EmptyState, ErrorState, LoadingState, StaleWarning } from '../components/states';
import { DeviceRow } from '../devices/device-row';
import { NoDevices } from '../devices/no-devices';
import { deviceFiltersQuery, readDeviceFilters, type PageView } from '../devices/device-list';
import { formatCount } from '../format';
import { useDevicePage, useDeviceSummary } from '../hooks/use-devices';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useLiveDevices } from '../hooks/use-live-devices';
import { useNow } from '../hooks/use-now';
import { navigate, paths, useLocation } from '../router';

/** Typing in the search box updates the URL (and asks the server) once the typing pauses. */
const SEARCH_DEBOUNCE_MS = 300;

/** Where a page of the list starts: the hub's cursor, and the last id of the page before it. */
interface PagePosition {
  cursor: string | null;
  afterId: string | null;
}

const FIRST_PAGE: PagePosition = { cursor: null, afterId: null };

function writeFilters(f: DeviceFilters): void {
  // replace, not push: each keystroke in the search should not become a Back step.
  navigate(`${paths.devices()}${deviceFiltersQuery(f)}`, { replace: true });
}

/** "online, disabled" — the filters other than the search, as words. */
function filterWords(f: DeviceFilters): string[] {
  return [f.online, f.status].filter((w) => w !== '');
}

/** What the table says when a page has no device. */
function noMatchText(f: DeviceFilters): string {
  const words = filterWords(f);
  if (f.search !== '') return `No ${words.length > 0 ? `${words.join(', ')} ` : ''}device matches “${f.search}”.`;
  return `No device is ${words.join(' and ')}.`;
}

/**
 * The fleet, a page at a time, searched and filtered by the server, with the fleet's true counts,
 * kept current by live updates rather than polling.
 *
 * Pages with Previous/Next rather than a virtualised list: the hub pages its registry forward only
 * (the next page starts after the last id seen; no offsets, no total for a search), so a scrolled
 * list of 100,000 rows could only reach row 90,000 through the 1,800 pages before it, and its live
 * updates would have to refetch everything rendered. A page of 50 is one indexed hub query, it is
 * the one thing a change refetches, and a device far down is found by searching for it.
 */
export function DevicesPage({ me }: { me: Me }) {
  useDocumentTitle('Devices');
  const id = useId();
  const { search } = useLocation();
  const filters = useMemo(() => readDeviceFilters(search), [search]);
  const filtered = filters.search !== '' || filterWords(filters).length > 0;
  // A search with a character no device id has matches nothing: no need to ask.
  const searchable = filters.search === '' || DEVICE_ID_PATTERN.test(filters.search);

  // Previous/Next: the positions of the pages walked through, reset whenever the filters change.
  const filtersKey = deviceFiltersQuery(filters);
  const [paging, setPaging] = useState<{ key: string; stack: PagePosition[] }>({ key: filtersKey, stack: [FIRST_PAGE] });
  const stack = paging.key === filtersKey ? paging.stack : [FIRST_PAGE];
  const position = stack.at(-1) ?? FIRST_PAGE;

  const page = useDevicePage(filters, position.cursor, searchable);
  const summary = useDeviceSummary();
  const now = useNow(5000);

  const shown = page.isPlaceholderData ? undefined : page.data;
  const view = useMemo<PageView | undefined>(
    () => (shown === undefined ? undefined : { search: filters.search, ids: shown.devices.map((d) => d.deviceId), afterId: position.afterId, hasNext: shown.nextCursor !== null }),
    [shown, filters.search, position.afterId],
  );
  const { live, reconnect } = useLiveDevices(view);

  // The search box: a local draft, committed to the URL after a pause in typing.
  const [draft, setDraft] = useState(filters.search);
  const committed = useRef(filters.search);
  useEffect(() => {
    const wanted = draft.trim();
    if (wanted === committed.current) return;
    const timer = setTimeout(() => {
      committed.current = wanted;
      writeFilters({ ...readDeviceFilters(window.location.search), search: wanted });
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [draft]);
  // The URL changed from elsewhere (Back, a link, Clear): the box follows it.
  useEffect(() => {
    if (filters.search !== committed.current) {
      committed.current = filters.search;
      setDraft(filters.search);
    }
  }, [filters.search]);

  const next = (): void => {
    const data = page.data;
    const lastId = data?.devices.at(-1)?.deviceId;
    if (data?.nextCursor == null || lastId === undefined) return;
    setPaging({ key: filtersKey, stack: [...stack, { cursor: data.nextCursor, afterId: lastId }] });
  };
  const previous = (): void => setPaging({ key: filtersKey, stack: stack.slice(0, -1) });
  const first = (): void => setPaging({ key: filtersKey, stack: [FIRST_PAGE] });

  const [adding, setAdding] = useState(false);
  const addButton = useRef<HTMLButtonElement>(null);

  const devices = page.data?.devices;
  return (
    <main className="page">
      <div className="page-head">
        <div>
          <h1>Devices</h1>
          <p className="muted">
            <FleetCounts summary={summary.data} failed={summary.isError} /> <LiveBadge phase={live.phase} />
          </p>
        </div>
        {me.role === 'admin' && (
          <button ref={addButton} type="button" className="button button-primary" onClick={() => setAdding(true)}>
            Add device
          </button>
        )}
      </div>
      {me.role === 'admin' && <AddDeviceDialog open={adding} onClose={() => setAdding(false)} afterClose={() => addButton.current?.focus()} />}

      <TerminalSessionsPanel me={me} />

      <form className="filters" role="search" aria-label="Filter devices" onSubmit={(e) => e.preventDefault()}>
        <div className="field field-wide">
          <label htmlFor={`${id}-search`}>Search devices</label>
          <input
            id={`${id}-search`}
            type="search"
            placeholder="Part of the id, any case"
            spellCheck={false}
            autoComplete="off"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-online`}>Connection</label>
          <select id={`${id}-online`} value={filters.online} onChange={(e) => writeFilters({ ...filters, online: e.target.value as DeviceFilters['online'] })}>
            <option value="">Online or offline</option>
            <option value="online">Online</option>
            <option value="offline">Offline</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select id={`${id}-status`} value={filters.status} onChange={(e) => writeFilters({ ...filters, status: e.target.value as DeviceFilters['status'] })}>
            <option value="">Enabled or disabled</option>
            <option value="enabled">Enabled</option>
            <option value="disabled">Disabled</option>
          </select>
        </div>
        {filtered && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setDraft('');
              writeFilters({ search: '', online: '', status: '' });
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      {live.phase === 'off' && (
        <p className="inline-warning" role="alert">
          Live updates stopped: {live.message} The list may be out of date.{' '}
          <button type="button" className="button button-small" onClick={reconnect}>
            Reconnect
          </button>
        </p>
      )}

      {!searchable ? (
        <EmptyState>
          <p>No device matches “{filters.search}”: device ids have only letters, digits and - . % _ * ? ! ( ) , : = @ $ &apos;</p>
        </EmptyState>
      ) : page.isPending ? (
        <LoadingState>Loading devices…</LoadingState>
      ) : devices === undefined ? (
        <ErrorState title="Could not load the devices." error={page.error} onRetry={() => void page.refetch()} />
      ) : devices.length === 0 && !filtered && stack.length === 1 && !page.isPlaceholderData ? (
        <NoDevices />
      ) : (
        <>
          <StaleWarning error={page.error} />
          <div className="table-wrap" aria-busy={page.isPlaceholderData}>
            <table className="table table-cards table-sticky-ends">
              <caption className="visually-hidden">Registered devices{filtered ? ' matching the filters' : ''}, page {stack.length}</caption>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Connection</th>
                  <th scope="col">Status</th>
                  <th scope="col">Connected or last seen</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {devices.length === 0 ? (
                  <tr>
                    <td colSpan={5} className="no-match">
                      {page.isPlaceholderData ? 'Searching…' : stack.length > 1 ? 'No devices on this page any more.' : noMatchText(filters)}
                    </td>
                  </tr>
                ) : (
                  devices.map((d) => <DeviceRow key={d.deviceId} device={d} me={me} now={now} />)
                )}
              </tbody>
            </table>
          </div>
          {(stack.length > 1 || page.data?.nextCursor != null) && (
            <nav className="pager" aria-label="Pages of devices">
              <button type="button" className="button" onClick={previous} disabled={stack.length === 1}>
                Previous
              </button>
              <span className="muted pager-position">Page {stack.length}</span>
              <button type="button" className="button" onClick={next} disabled={page.isPlaceholderData || page.data?.nextCursor == null}>
                Next
              </button>
              {stack.length > 2 && (
                <button type="button" className="button button-quiet" onClick={first}>
                  First page
                </button>
              )}
            </nav>
          )}
        </>
      )}
    </main>
  );
}

/** "100,000 registered · 1 online · 12 disabled", for the whole fleet whatever the filters. */
function FleetCounts({ summary, failed }: { summary: DeviceSummary | undefined; failed: boolean }) {
  if (summary === undefined) return <span>{failed ? 'Could not count the devices.' : 'Counting devices…'}</span>;
  return (
    <span className="fleet-counts">
      {formatCount(summary.registered)} registered · {formatCount(summary.online)} online
      {summary.disabled > 0 ? ` · ${formatCount(summary.disabled)} disabled` : ''}
    </span>
  );
}

function LiveBadge({ phase }: { phase: 'connecting' | 'live' | 'off' }) {
  if (phase === 'off') return null;
  return (
    <span className={`badge ${phase === 'live' ? 'badge-live' : 'badge-neutral'}`} title={phase === 'live' ? 'Changes show as they happen' : 'Connecting to live updates'}>
      {phase === 'live' ? 'Live' : 'Connecting…'}
    </span>
  );
}
