/** The service side of enrollment (shapes in shared/enrollment.ts), over a ServiceClient's credentials. */
import type { EnrollmentTokenCreated, EnrollmentTokenRequest } from '../../shared/enrollment.js';
import type { ServiceClient } from './service-client.js';

/**
 * Makes a one-use enrollment token (POST /enrollment-tokens): needs a policy with RegistryWrite or
 * Enroll. `operator` names the person a trusted service (the console) acts for; the hub records it.
 */
export async function createEnrollmentToken(service: ServiceClient, spec: EnrollmentTokenRequest, operator?: string): Promise<EnrollmentTokenCreated> {
  const headers: Record<string, string> = operator === undefined ? {} : { 'x-devicestreams-operator': operator };
  return (await service.call('POST', '/enrollment-tokens', { body: spec, headers })).body as EnrollmentTokenCreated;
}
