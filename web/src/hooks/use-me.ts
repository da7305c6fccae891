import { useQuery } from '@tanstack/react-query';
import { meQuery } from '../api';

/** The signed-in operator: `data` is the Me, or null when there is no session. */
export function useMe() {
  return useQuery(meQuery());
}
