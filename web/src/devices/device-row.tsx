import { useId } from 'react';
import type { ConsoleDevice, Me } from '../../../shared/console-api';
import { Link } from '../components/link';
import { OpenAppButton } from '../components/open-app-button';
import { formatDateTimeShort, formatDateTime, formatRelative } from '../format';
import { paths } from '../router';

/** Why a viewer's Connect is unavailable: shown as text beside the button, not only as a tooltip. */
const VIEWER_REASON = 'Viewers cannot open terminals; an admin can give you the operator role.';

/** One device of the list: its connection, status, when it connected or was last seen, and what can be done with it. */
export function DeviceRow({ device, me, now }: { device: ConsoleDevice; me: Me; now: number }) {
  return (
    <tr>
      <th scope="row" className="mono">
        {/* Cut short on screen by CSS only: the text, the row's name and a copy keep the whole id. */}
        <span className="cell-id" title={device.deviceId}>
          {device.deviceId}
        </span>
      </th>
      <td data-label="Connection">
        <span className={`badge ${device.online ? 'badge-online' : 'badge-offline'}`}>{device.online ? 'Online' : 'Offline'}</span>
      </td>
      <td data-label="Status">
        <span className={device.status === 'disabled' ? 'text-warn' : undefined}>{device.status === 'enabled' ? 'Enabled' : 'Disabled'}</span>
        <AgentVersion agent={device.agent} />
      </td>
      <td data-label="Seen">
        <Seen device={device} now={now} />
      </td>
      <td className="actions">
        <DeviceAction device={device} me={me} />
        <OpenAppButton device={device} me={me} />
      </td>
    </tr>
  );
}

/** "agent 0.1.0" from `devicestreams-agent/0.1.0` (the whole name on hover); nothing before its first connection. */
function AgentVersion({ agent }: { agent: string | null }) {
  if (agent === null) return null;
  const slash = agent.lastIndexOf('/');
  return (
    <span className="device-agent" title={agent}>
      agent {slash < 0 ? agent : agent.slice(slash + 1)}
    </span>
  );
}

/** "Connected since …" while online; "last seen 5 minutes ago" or "Never" otherwise. */
function Seen({ device, now }: { device: ConsoleDevice; now: number }) {
  if (device.online && device.connectedSince !== null) {
    return (
      <>
        Connected since{' '}
        <time dateTime={device.connectedSince} title={formatDateTime(device.connectedSince)}>
          {formatDateTimeShort(device.connectedSince, now)}
        </time>
      </>
    );
  }
  if (device.lastActivityTime === null) return <span className="muted">Never</span>;
  return (
    <>
      Last seen{' '}
      <time dateTime={device.lastActivityTime} title={formatDateTime(device.lastActivityTime)}>
        {formatRelative(device.lastActivityTime, now)}
      </time>
    </>
  );
}

/** Connect, or the reason there is none, in words. */
function DeviceAction({ device, me }: { device: ConsoleDevice; me: Me }) {
  const reasonId = useId();
  const label = `Connect to ${device.deviceId}`;
  if (device.status === 'disabled') {
    return me.role === 'admin' ? (
      <span className="action-note">
        Disabled — enable it with <code>devicestreams device enable {device.deviceId}</code>
      </span>
    ) : (
      <span className="action-note">Disabled — an admin can enable it.</span>
    );
  }
  if (me.role === 'viewer') {
    return (
      <>
        <button type="button" className="button button-small" disabled aria-label={label} aria-describedby={reasonId}>
          Connect
        </button>
        <span id={reasonId} className="action-note">
          {VIEWER_REASON}
        </span>
      </>
    );
  }
  return (
    <Link to={paths.terminal(device.deviceId)} className="button button-small button-primary" aria-label={label}>
      Connect
    </Link>
  );
}
