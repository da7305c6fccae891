import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { endTerminalSession, queryKeys, terminalSessionsQuery } from '../api';

/** The caller's resumable terminal sessions, or (`all`, admins) everyone's. */
export function useTerminalSessions(all: boolean, enabled = true) {
  return useQuery({ ...terminalSessionsQuery(all), enabled });
}

/** Ends a session on its device; the lists are read again afterwards, whatever happened. */
export function useEndTerminalSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: endTerminalSession,
    onSettled: () => queryClient.invalidateQueries({ queryKey: queryKeys.allTerminalSessions() }),
  });
}
