import { useMutation } from '@tanstack/react-query';
import { createEnrollmentToken } from '../api';

/**
 * Creates an enrollment token for "Add device". Nothing to refetch afterwards: the device is
 * registered when it uses the token, and the list hears of it through its live updates.
 */
export function useCreateEnrollmentToken() {
  return useMutation({ mutationFn: createEnrollmentToken });
}
