import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { queryKeys } from '../api';
import { DeviceEventSource, type LiveState } from '../devices/device-event-source';
import { Throttle, batchAffectsPage, type PageView } from '../devices/device-list';

/** Refetches of the page and the counts happen at most this often, however fast the fleet changes. */
const REFETCH_INTERVAL_MS = 1000;
/**
 * A tab hidden this long lets its stream go (and reads afresh when shown again): over HTTP/1.1 a
 * browser holds at most six connections to the console, and each open stream keeps one.
 */
const HIDDEN_CLOSE_MS = 10_000;

/**
 * Keeps the Devices page current without polling: follows the fleet's changes and refetches the
 * page on screen (when a change may alter it) and the counts (on any change), at most once a
 * second. Returns the state of the live updates and a way to reconnect after they stopped.
 */
export function useLiveDevices(view: PageView | undefined): { live: LiveState; reconnect: () => void } {
  const queryClient = useQueryClient();
  const [live, setLive] = useState<LiveState>({ phase: 'connecting' });
  // The handlers read the page on screen now, not the one of the render that set them up.
  const viewRef = useRef(view);
  viewRef.current = view;
  const sourceRef = useRef<DeviceEventSource | undefined>(undefined);

  useEffect(() => {
    const due = { page: false, summary: false };
    const throttle = new Throttle(REFETCH_INTERVAL_MS, () => {
      // Every page becomes stale; only the one on screen is fetched now (the others when shown).
      if (due.page) void queryClient.invalidateQueries({ queryKey: queryKeys.devicePages() });
      if (due.summary) void queryClient.invalidateQueries({ queryKey: queryKeys.deviceSummary() });
      due.page = false;
      due.summary = false;
    });
    const source = new DeviceEventSource({
      onBatch: (batch) => {
        due.summary = true;
        if (batchAffectsPage(batch, viewRef.current)) due.page = true;
        throttle.request();
      },
      onResync: () => {
        due.page = true;
        due.summary = true;
        throttle.request();
      },
      onState: setLive,
      // Perhaps the session is over: asking who is signed in sends the page to the login if so.
      onStopped: () => void queryClient.invalidateQueries({ queryKey: queryKeys.me() }),
    });
    sourceRef.current = source;
    source.connect();
    let hiddenTimer: ReturnType<typeof setTimeout> | undefined;
    const onVisibility = (): void => {
      clearTimeout(hiddenTimer);
      if (document.visibilityState === 'hidden') hiddenTimer = setTimeout(() => source.close(), HIDDEN_CLOSE_MS);
      else if (!source.isOpen) source.connect();
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      clearTimeout(hiddenTimer);
      throttle.dispose();
      source.close();
      sourceRef.current = undefined;
    };
  }, [queryClient]);

  const reconnect = useCallback(() => sourceRef.current?.connect(), []);
  return { live, reconnect };
}
