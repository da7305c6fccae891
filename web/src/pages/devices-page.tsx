import { useDeferredValue, useMemo, useState } from 'react';
import type { ConsoleDevice, Me } from '../../../shared/console-api';
import { Link } from '../components/link';
import { EmptyState, ErrorState, LoadingState, StaleWarning } from '../components/states';
import { formatDateTime, formatRelative } from '../format';
import { useDevices } from '../hooks/use-devices';
import { useDocumentTitle } from '../hooks/use-document-title';
import { useNow } from '../hooks/use-now';
import { paths } from '../router';

/** Why a viewer sees a greyed-out Connect button. */
const VIEWER_HINT = 'Viewers cannot open terminals. Ask an admin for the operator role.';

/** Every registered device, whether it is online, and a way into its terminal. */
export function DevicesPage({ me }: { me: Me }) {
  useDocumentTitle('Devices');
  const devices = useDevices();
  const [search, setSearch] = useState('');
  const deferredSearch = useDeferredValue(search);
  const now = useNow(5000);

  const shown = useMemo(() => {
    const q = deferredSearch.trim().toLowerCase();
    const list = devices.data ?? [];
    return q === '' ? list : list.filter((d) => d.deviceId.toLowerCase().includes(q));
  }, [devices.data, deferredSearch]);

  const onlineCount = devices.data?.filter((d) => d.online).length ?? 0;

  return (
    <main className="page">
      <div className="page-head">
        <div>
          <h1>Devices</h1>
          {devices.data !== undefined && (
            <p className="muted">
              {devices.data.length} registered · {onlineCount} online
            </p>
          )}
        </div>
        <input
          type="search"
          className="search"
          aria-label="Search devices"
          placeholder="Search devices"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>

      {devices.isPending ? (
        <LoadingState>Loading devices…</LoadingState>
      ) : devices.data === undefined ? (
        <ErrorState title="Could not load the devices." error={devices.error} onRetry={() => void devices.refetch()} />
      ) : devices.data.length === 0 ? (
        <EmptyState>
          <p>
            No devices yet — register one with <code>devicestreams device create ID</code>
          </p>
        </EmptyState>
      ) : (
        <>
          <StaleWarning error={devices.error} />
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Registered devices</caption>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Connection</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 ? (
                  <tr>
                    <td colSpan={5} className="no-match">
                      No device matches “{deferredSearch.trim()}”.
                    </td>
                  </tr>
                ) : (
                  shown.map((d) => <DeviceRow key={d.deviceId} device={d} me={me} now={now} />)
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </main>
  );
}

function DeviceRow({ device, me, now }: { device: ConsoleDevice; me: Me; now: number }) {
  const label = `Connect to ${device.deviceId}`;
  return (
    <tr>
      <th scope="row" className="mono">
        {device.deviceId}
      </th>
      <td>
        <span className={`badge ${device.online ? 'badge-online' : 'badge-offline'}`}>{device.online ? 'Online' : 'Offline'}</span>
      </td>
      <td>
        <span className={device.status === 'disabled' ? 'text-warn' : undefined}>{device.status === 'enabled' ? 'Enabled' : 'Disabled'}</span>
      </td>
      <td>
        {device.lastActivityTime === null ? (
          <span className="muted">Never</span>
        ) : (
          <time dateTime={device.lastActivityTime} title={formatDateTime(device.lastActivityTime)}>
            {formatRelative(device.lastActivityTime, now)}
          </time>
        )}
      </td>
      <td className="actions">
        {device.status === 'disabled' ? null : me.role === 'viewer' ? (
          // The wrapper carries the tooltip too: some browsers show none over a disabled button.
          <span title={VIEWER_HINT}>
            <button type="button" className="button button-small" disabled aria-label={label} title={VIEWER_HINT}>
              Connect
            </button>
          </span>
        ) : (
          <Link to={paths.terminal(device.deviceId)} className="button button-small button-primary" aria-label={label}>
            Connect
          </Link>
        )}
      </td>
    </tr>
  );
}
