import { useState } from 'react';
import type { AppHandoff, ConsoleDevice, Me } from '../../../shared/console-api';
import { apiFetch } from '../api';

/**
 * "Open web app": the device's web UI (its `service` mapping, `http` by default) in a new tab on the
 * app's own origin. The console asks for a one-use link and sends the new tab there; the tab is
 * opened at the click (so no popup blocker stops it) and cut off from this page (`opener` cleared)
 * before it goes anywhere. Shown to operators and admins for an online, enabled device that
 * serves a web app.
 */
export function OpenAppButton({ device, me }: { device: ConsoleDevice; me: Me }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const service = webService(device);
  if (me.role === 'viewer' || !device.online || device.status !== 'enabled' || service === null) return null;
  const open = (): void => {
    setError(null);
    setBusy(true);
    const tab = window.open('about:blank', '_blank');
    if (tab !== null) tab.opener = null;
    apiFetch<AppHandoff>('/apps/handoff', { method: 'POST', body: { deviceId: device.deviceId, service } })
      .then((h) => {
        if (tab === null) window.location.assign(h.url);
        else tab.location.href = h.url;
      })
      .catch((err: unknown) => {
        tab?.close();
        setError(err instanceof Error ? err.message : String(err));
      })
      .finally(() => setBusy(false));
  };
  return (
    <>
      <button type="button" className="button button-small" onClick={open} disabled={busy} aria-label={`Open web app of ${device.deviceId} (${service})`}>
        Open web app
      </button>
      {error === null ? null : (
        <span role="alert" className="action-note text-warn">
          {error}
        </span>
      )}
    </>
  );
}

/**
 * The device's web service: `http`, else `https`, among the stream names its agent announced;
 * null when it announced neither. An agent that announced nothing (older than the announcement)
 * may still serve `http`: the button is offered, and a missing mapping gets the hub's clear page.
 */
export function webService(device: Pick<ConsoleDevice, 'services'>): string | null {
  if (device.services === null) return 'http';
  return ['http', 'https'].find((s) => device.services?.includes(s) === true) ?? null;
}
