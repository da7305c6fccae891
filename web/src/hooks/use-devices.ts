import { useQuery } from '@tanstack/react-query';
import { devicesQuery } from '../api';

/** The device list, refreshed every few seconds so online/offline changes show by themselves. */
export function useDevices() {
  return useQuery(devicesQuery());
}
