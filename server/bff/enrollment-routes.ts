/**
 * "Add device" in the console API (see shared/console-api.ts): an admin asks for a one-use
 * enrollment token and gets the line to paste on the device. The BFF asks the hub with its own
 * policy (which has Enroll) and names the admin, whom the hub records as the token's maker. The
 * browser gets the install command (the token is in it, by necessity: it is what the device
 * uses, once, within its TTL) and nothing else of the hub's: no key, no connection string.
 */
import { fieldProblem } from './field-problem.js';
import type { ConsoleEnrollmentToken } from '../../shared/console-api.js';
import { enrollmentTokenRequestSchema } from '../../shared/enrollment-schema.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { readBody } from '../http/respond.js';
import { createEnrollmentToken } from '../sdk/enrollment-client.js';
import type { ServiceClient } from '../sdk/service-client.js';
import { ApiFailure, badRequest, forbidden, fromHubError, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute } from './api-routes.js';

/** What the hub's refusals mean to the admin at the screen. */
function fromHub(err: unknown): ApiFailure {
  if (err instanceof DsError) {
    if (err.code === ErrorCode.EnrollmentRefused || err.code === ErrorCode.DeviceAlreadyExists) return new ApiFailure(409, 'enrollment_refused', `${err.message}.`);
    if (err.code === ErrorCode.Forbidden) {
      return new ApiFailure(502, 'hub_credentials', "The console's policy may not create enrollment tokens; give it the Enroll right (or use one with RegistryWrite).");
    }
  }
  return fromHubError(err);
}

export function enrollmentRoutes(service: ServiceClient): ApiRoute[] {
  return [
    {
      method: 'POST',
      path: '/api/enrollment-tokens',
      run: async (req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        if (caller.me.role !== 'admin') throw forbidden('add devices');
        let raw: unknown;
        try {
          raw = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8'));
        } catch {
          throw badRequest('The request body must be JSON (at most 16 KiB).');
        }
        const parsed = enrollmentTokenRequestSchema.safeParse(raw);
        if (!parsed.success) throw badRequest(fieldProblem(parsed.error));
        const t = await createEnrollmentToken(service, parsed.data, caller.me.name).catch((e: unknown) => {
          throw fromHub(e);
        });
        // Whitelisted: the hub's answer also has the bare token and its id, which the page needs not.
        const body: ConsoleEnrollmentToken = { target: t.target, pattern: t.pattern, tags: t.tags, maps: t.maps, expiresAt: t.expiresAt, installCommand: t.installCommand };
        sendApiJson(res, 200, body);
      },
    },
  ];
}
