import { useInfiniteQuery } from '@tanstack/react-query';
import { streamsQuery, type StreamFilters } from '../api';

/** The stream log for these filters, newest first; `fetchNextPage` loads the next older page. */
export function useStreams(filters: StreamFilters) {
  return useInfiniteQuery(streamsQuery(filters));
}
