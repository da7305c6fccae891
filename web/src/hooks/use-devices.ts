import { useQuery } from '@tanstack/react-query';
import { devicePageQuery, deviceSummaryQuery, type DeviceFilters } from '../api';

/**
 * One page of the device list (`cursor` null for the first), fetched only when `enabled`; kept
 * current by useLiveDevices, not by polling.
 */
export function useDevicePage(filters: DeviceFilters, cursor: string | null, enabled = true) {
  return useQuery({ ...devicePageQuery(filters, cursor), enabled });
}

/** The fleet's counts: registered, enabled, disabled, online. */
export function useDeviceSummary() {
  return useQuery(deviceSummaryQuery());
}
