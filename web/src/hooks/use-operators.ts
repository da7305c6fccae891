import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Role } from '../../../shared/console-api';
import { changeOwnPassword, createOperator, deleteOperator, operatorsQuery, queryKeys, updateOperator } from '../api';

/** The console accounts (admins only). */
export function useOperators() {
  return useQuery(operatorsQuery());
}

/** Refetches the account list after a change; `me` too, since an admin may change their own role. */
function useInvalidateOperators() {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([queryClient.invalidateQueries({ queryKey: queryKeys.operators() }), queryClient.invalidateQueries({ queryKey: queryKeys.me() })]);
}

export function useCreateOperator() {
  const invalidate = useInvalidateOperators();
  return useMutation({ mutationFn: createOperator, onSuccess: invalidate });
}

export function useUpdateOperator() {
  const invalidate = useInvalidateOperators();
  return useMutation({
    mutationFn: ({ name, ...change }: { name: string; role?: Role; password?: string }) => updateOperator(name, change),
    onSettled: invalidate,
  });
}

export function useDeleteOperator() {
  const invalidate = useInvalidateOperators();
  return useMutation({ mutationFn: deleteOperator, onSettled: invalidate });
}

/** Changes the signed-in account's password; the answer is who it is (the session cookie is new). */
export function useChangeOwnPassword() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ currentPassword, newPassword }: { currentPassword: string; newPassword: string }) => changeOwnPassword(currentPassword, newPassword),
    onSuccess: (me) => queryClient.setQueryData(queryKeys.me(), me),
  });
}
