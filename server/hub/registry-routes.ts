/** The registry REST API in the shape azure-iothub's Registry uses: PUT/GET/DELETE /devices/{id}, GET /devices. */
import { z } from 'zod';
import { CloseCode } from '../../shared/close-codes.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { readJson, sendJson } from '../http/respond.js';
import type { Router } from '../http/router.js';
import { newKey } from '../store/keys.js';
import type { DeviceWrite } from '../store/store.js';
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

/** Most devices one registry page may ask for (Azure's limit). */
const MAX_DEVICES_PAGE = 1000;

/** The continuation token: where the next page starts, opaque to clients. */
function encodeContinuation(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId }), 'utf8').toString('base64url');
}

function decodeContinuation(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string' && v.after.length <= 128) return v.after;
  } catch {
    // reported below
  }
  throw new DsError(ErrorCode.ArgumentInvalid, 'header x-ms-continuation is not a continuation token this hub gave out');
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function addRegistryRoutes(router: Router, hub: HubContext): void {
  const { store, auth } = hub;

  const mayReadKeys = (p: PolicyPrincipal): boolean => p.rights.has('RegistryRead') || p.rights.has('RegistryWrite');

  /**
   * Azure's paging: at most `top` (1,000 at most) devices in id order; when more follow, the answer
   * carries `x-ms-continuation`, which the next request sends back in the same header. Optional
   * filters of ours: `search` (part of the id), `status`, `connectionState`.
   */
  router.add('GET', '/devices', async ({ req, res, query }) => {
    const caller = await auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    const top = Math.min(Math.max(Math.floor(Number(query.get('top') ?? '1000')) || 1000, 1), MAX_DEVICES_PAGE);
    const continuation = req.headers['x-ms-continuation'];
    const after = typeof continuation === 'string' && continuation !== '' ? decodeContinuation(continuation) : undefined;
    const status = query.get('status');
    if (status !== null && status !== 'enabled' && status !== 'disabled') throw new DsError(ErrorCode.ArgumentInvalid, 'query parameter status must be enabled or disabled');
    const state = query.get('connectionState');
    if (state !== null && state !== 'Connected' && state !== 'Disconnected') throw new DsError(ErrorCode.ArgumentInvalid, 'query parameter connectionState must be Connected or Disconnected');
    const search = query.get('search') ?? undefined;
    if (search !== undefined && search.length > 128) throw new DsError(ErrorCode.ArgumentInvalid, 'query parameter search is longer than a device id can be');
    const rows = await store.devices.page({ search, status: status ?? undefined, online: state === null ? undefined : state === 'Connected', after, limit: top + 1 });
    const page = rows.slice(0, top);
    const last = page.at(-1);
    const headers: Record<string, string> = rows.length > top && last !== undefined ? { 'x-ms-continuation': encodeContinuation(last.deviceId) } : {};
    sendJson(res, 200, page.map((d) => presentDevice(d, mayReadKeys(caller))), headers);
  });

  /** The registry's change feed as Server-Sent Events (see device-feed.ts). */
  router.add('GET', '/registry/events', async ({ req, res }) => {
    await auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    if (!hub.feed.serve(req, res)) throw new DsError(ErrorCode.ThrottledHub, 'too many clients follow the registry on this node; retry later', { retryAfterSeconds: 10 });
  });

  /** Azure's registry statistics, with the connected count beside them. */
  router.add('GET', '/statistics/devices', async ({ req, res }) => {
    await auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    const c = await store.devices.counts();
    sendJson(res, 200, { totalDeviceCount: c.total, enabledDeviceCount: c.enabled, disabledDeviceCount: c.disabled, connectedDeviceCount: c.online });
  });

  router.add('GET', '/devices/:id', async ({ req, res, params }) => {
    const caller = await auth.service(req.headers.authorization, ['RegistryRead', 'RegistryView']);
    const id = validDeviceId(params.id as string);
    const d = await store.devices.get(id);
    if (d === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    sendJson(res, 200, presentDevice(d, mayReadKeys(caller)));
  });

  router.add('PUT', '/devices/:id', async ({ req, res, params }) => {
    await auth.service(req.headers.authorization, ['RegistryWrite']);
    const id = validDeviceId(params.id as string);
    const body = parseDeviceBody(await readJson(req), id);
    const ifMatch = req.headers['if-match'];
    const existing = await store.devices.get(id);
    const keys = body.authentication?.symmetricKey;
    if (ifMatch === undefined) {
      if (existing !== undefined) throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${id}" already exists; update it with If-Match`);
      const write: DeviceWrite = {
        status: body.status ?? 'enabled',
        statusReason: body.statusReason ?? null,
        primaryKey: keys?.primaryKey || newKey(),
        secondaryKey: keys?.secondaryKey || newKey(),
      };
      const created = await store.devices.create(id, write);
      if (created === undefined) throw new DsError(ErrorCode.DeviceAlreadyExists, `device "${id}" already exists`);
      hub.log(`device ${id} created`);
      hub.feed.changed(id);
      sendJson(res, 200, presentDevice(created));
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
    const updated = await store.devices.update(id, write);
    if (updated === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    if (updated.status === 'disabled') {
      await hub.revoke(id, CloseCode.DeviceRevoked, 'device disabled', existing.status !== 'disabled' ? 'device disabled in the registry' : undefined);
    } else if (updated.primaryKey !== existing.primaryKey || updated.secondaryKey !== existing.secondaryKey) {
      await hub.revoke(id, CloseCode.DeviceRevoked, 'device keys changed; reconnect with the new key', undefined);
    }
    hub.feed.changed(id);
    sendJson(res, 200, presentDevice(updated));
  });

  router.add('DELETE', '/devices/:id', async ({ req, res, params }) => {
    await auth.service(req.headers.authorization, ['RegistryWrite']);
    const id = validDeviceId(params.id as string);
    const existing = await store.devices.get(id);
    if (existing === undefined) throw new DsError(ErrorCode.DeviceNotFound, `device "${id}" is not in the registry`);
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && unquote(ifMatch) !== '*' && unquote(ifMatch) !== existing.etag) {
      throw new DsError(ErrorCode.PreconditionFailed, 'etag does not match; read the device again and retry');
    }
    await store.devices.delete(id);
    await hub.revoke(id, CloseCode.DeviceRevoked, 'device deleted', 'device deleted from the registry');
    hub.feed.changed(id);
    hub.log(`device ${id} deleted`);
    res.writeHead(204).end();
  });
}
