import { useQuery } from '@tanstack/react-query';
import { settingsQuery } from '../api';

/** The console settings; only fetched when `enabled` (the History page shows them to admins only). */
export function useSettings(enabled: boolean) {
  return useQuery({ ...settingsQuery(), enabled });
}
