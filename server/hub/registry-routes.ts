/** The registry REST API in the shape azure-iothub's Registry uses: PUT/GET/DELETE /devices/{id}, GET /devices. */
import { z } from 'zod';
import { CloseCode } from '../../shared/close-codes.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { readJson, sendJson } from '../http/respond.js';
import type { Router } from '../http/router.js';
import { newKey, type DeviceWrite } from '../store/devices.js';
import type { PolicyPrincipal } from './auth.js';
import type { HubContext } from './hub-context.js';
import { presentDevice } from './presenters.js';

const keySchema = z
  .string()
  .refine((k) => k === '' || (/^[A-Za-z0-9+/]+={0,2}$/.test(k) && Buffer.from(k, 'base64').length >= 16 && Buffer.from(k, 'base64').length <= 64), {
    message: 'must be base64 of 16 to 64 bytes (or empty to have one generated)',
  });

const deviceBody = z.object({
  deviceId: z.string().optional(),
  status: z.enum(['enabled', 'disabled']).optional(),
  statusReason: z.string().max(128).nullable().optional(),
  authentication: z
    .object({
      type: z.enum(['sas', 'none']).optional(),
      symmetricKey: z.object({ primaryKey: keySchema.nullable().optional(), secondaryKey: keySchema.nullable().optional() }).optional(),
    })
    .optional(),
});

function validDeviceId(id: string): string {
  if (!DEVICE_ID_PATTERN.test(id)) {
    throw new DsError(ErrorCode.ArgumentInvalid, 'device id must be 1-128 characters of letters, digits and -.%_*?!(),:=@$\'');
  }
  return id;
}

function parseDeviceBody(raw: unknown, pathId: string): z.infer<typeof deviceBody> {
  const parsed = deviceBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.');
    throw new DsError(ErrorCode.InvalidRequest, `invalid field "${field}": ${issue?.message ?? 'invalid'}`);
  }
  if (parsed.data.deviceId !== undefined && parsed.data.deviceId !== pathId) {
    throw new DsError(ErrorCode.InvalidRequest, 'invalid field "deviceId": must match the device id in the path');
  }
  return parsed.data;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function addRegistryRoutes(router: Router, hub: HubContext): void {
  const { store, auth } = hub;

  const mayReadKeys = (p: PolicyPrincipal): boolean => p.rights.has('RegistryRead') || p.rights.has('RegistryWrite');

  router.add('GET', '/devices', ({ req, res, query }) => {
    const caller = auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    const top = Math.min(Math.max(Number(query.get('top') ?? '1000') || 1000, 1), 10_000);
    sendJson(res, 200, store.devices.list(top).map((d) => presentDevice(d, hub.connections.isOnline(d.deviceId), mayReadKeys(caller))));
  });

  router.add('GET', '/devices/:id', ({ req, res, params }) => {
    const caller = auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    const id = validDeviceId(params.id as string);
    const d = store.devices.get(id);
    if (d === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    sendJson(res, 200, presentDevice(d, hub.connections.isOnline(id), mayReadKeys(caller)));
  });

  router.add('PUT', '/devices/:id', async ({ req, res, params }) => {
    auth.service(req.headers.authorization, ['RegistryWrite']);
    const id = validDeviceId(params.id as string);
    const body = parseDeviceBody(await readJson(req), id);
    const ifMatch = req.headers['if-match'];
    const existing = store.devices.get(id);
    const keys = body.authentication?.symmetricKey;
    if (ifMatch === undefined) {
      if (existing !== undefined) throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${id}" already exists; update it with If-Match`);
      const write: DeviceWrite = {
        status: body.status ?? 'enabled',
        statusReason: body.statusReason ?? null,
        primaryKey: keys?.primaryKey || newKey(),
        secondaryKey: keys?.secondaryKey || newKey(),
      };
      const created = store.devices.create(id, write);
      if (created === undefined) throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${id}" already exists`);
      hub.log(`device ${id} created`);
      sendJson(res, 200, presentDevice(created, false));
      return;
    }
    if (existing === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry; create it without If-Match`);
    const tag = unquote(ifMatch);
    if (tag !== '*' && tag !== existing.etag) throw new DsError(ErrorCode.PreconditionFailed, 'etag does not match; read the device again and retry');
    const write: DeviceWrite = {
      status: body.status ?? existing.status,
      statusReason: body.statusReason === undefined ? existing.statusReason : body.statusReason,
      primaryKey: keys?.primaryKey || existing.primaryKey,
      secondaryKey: keys?.secondaryKey || existing.secondaryKey,
    };
    const updated = store.devices.update(id, write);
    if (updated === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    if (updated.status === 'disabled') {
      hub.connections.disconnect(id, CloseCode.DeviceRevoked, 'device disabled');
      if (existing.status !== 'disabled') hub.broker.endDeviceStreams(id, 'device disabled in the registry');
    }
    else if (updated.primaryKey !== existing.primaryKey || updated.secondaryKey !== existing.secondaryKey) {
      hub.connections.disconnect(id, CloseCode.DeviceRevoked, 'device keys changed; reconnect with the new key');
    }
    sendJson(res, 200, presentDevice(updated, hub.connections.isOnline(id)));
  });

  router.add('DELETE', '/devices/:id', ({ req, res, params }) => {
    auth.service(req.headers.authorization, ['RegistryWrite']);
    const id = validDeviceId(params.id as string);
    const existing = store.devices.get(id);
    if (existing === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && unquote(ifMatch) !== '*' && unquote(ifMatch) !== existing.etag) {
      throw new DsError(ErrorCode.PreconditionFailed, 'etag does not match; read the device again and retry');
    }
    store.devices.delete(id);
    hub.connections.disconnect(id, CloseCode.DeviceRevoked, 'device deleted');
    hub.broker.endDeviceStreams(id, 'device deleted from the registry');
    hub.log(`device ${id} deleted`);
    res.writeHead(204).end();
  });
}
