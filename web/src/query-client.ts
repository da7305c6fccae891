/**
 * The app's React Query client. A 401 from any query or mutation means the session is gone:
 * the cached operator becomes null, and the app shell sends the person to the login page.
 */
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { isApiError, queryKeys } from './api';

export function createQueryClient(): QueryClient {
  const onError = (err: unknown): void => {
    if (isApiError(err, 401)) client.setQueryData(queryKeys.me(), null);
  };
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        // A 4xx will not change by asking again; network trouble and 5xx get two more tries.
        retry: (failures, err) => !(isApiError(err) && err.status >= 400 && err.status < 500) && failures < 2,
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
  return client;
}
