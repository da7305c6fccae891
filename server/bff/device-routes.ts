/**
 * The console's device API for a fleet of any size (see shared/console-api.ts): pages of the
 * registry searched and filtered by the hub, the fleet's counts, and the live change stream.
 * Nothing here reads the whole fleet: a page is one hub page of at most 200 devices.
 */
import type { DevicePage, DeviceSummary } from '../../shared/console-api.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import { splitTarget } from '../http/router.js';
import { followRegistry } from '../sdk/registry-feed.js';
import type { DevicePageQuery, ServiceClient } from '../sdk/service-client.js';
import { badRequest, fromHubError, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute, Caller } from './api-routes.js';
import { DeviceEvents } from './device-events.js';
import { presentDevice } from './presenters.js';
import type { SessionSockets } from './session-sockets.js';

/** Devices a page holds unless the browser asks for another number, and the most it may ask for. */
export const DEFAULT_DEVICE_PAGE = 50;
export const MAX_DEVICE_PAGE = 200;

const LIST_PARAMETERS = ['search', 'status', 'online', 'cursor', 'limit'] as const;
/** The hub's continuation tokens are base64url; this bounds what is passed on. */
const CURSOR_PATTERN = /^[A-Za-z0-9_-]{1,1024}$/;

/**
 * Reads the list's query string into the hub's page query; a 400 with a sentence for anything it
 * does not know, gives twice or cannot read. An empty value means the parameter is left out.
 */
export function parseDeviceListQuery(query: URLSearchParams): DevicePageQuery & { top: number } {
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (!(LIST_PARAMETERS as readonly string[]).includes(key)) {
      throw badRequest(`The device list has no parameter "${key.slice(0, 40)}"; it takes ${LIST_PARAMETERS.join(', ')}.`);
    }
    if (seen.has(key)) throw badRequest(`Give "${key}" once.`);
    seen.add(key);
  }
  const value = (key: (typeof LIST_PARAMETERS)[number]): string | undefined => {
    const v = query.get(key);
    return v === null || v === '' ? undefined : v;
  };
  const search = value('search');
  // Part of a device id has a device id's characters: a search for anything else can match nothing.
  if (search !== undefined && !DEVICE_ID_PATTERN.test(search)) {
    throw badRequest(`"search" is part of a device id: at most 128 letters, digits and - . % _ * ? ! ( ) , : = @ $ '.`);
  }
  const status = value('status');
  if (status !== undefined && status !== 'enabled' && status !== 'disabled') throw badRequest('"status" must be enabled or disabled.');
  const online = value('online');
  if (online !== undefined && online !== 'true' && online !== 'false') throw badRequest('"online" must be true or false.');
  const cursor = value('cursor');
  if (cursor !== undefined && !CURSOR_PATTERN.test(cursor)) throw badRequest('"cursor" must be the nextCursor of a previous page.');
  const limit = value('limit');
  if (limit !== undefined && !(/^\d{1,3}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= MAX_DEVICE_PAGE)) {
    throw badRequest(`"limit" must be a whole number from 1 to ${MAX_DEVICE_PAGE}.`);
  }
  return {
    top: limit === undefined ? DEFAULT_DEVICE_PAGE : Number(limit),
    search,
    status,
    connectionState: online === undefined ? undefined : online === 'true' ? 'Connected' : 'Disconnected',
    continuation: cursor,
  };
}

/**
 * The fleet's counts, shared by every page this process serves: the hub counts the whole registry
 * for each statistics call, so while the change feed is followed an answer is reused until a batch
 * says something changed (or MAX_AGE_MS passes); otherwise only calls that overlap share one.
 */
export class FleetSummary {
  static readonly MAX_AGE_MS = 5000;
  readonly #read: () => Promise<DeviceSummary>;
  readonly #live: () => boolean;
  /** Bumped by every batch: an answer read before a change must not be handed out after it. */
  #generation = 0;
  #cached: { value: DeviceSummary; generation: number; at: number } | undefined;
  #inflight: { promise: Promise<DeviceSummary>; generation: number } | undefined;

  constructor(read: () => Promise<DeviceSummary>, live: () => boolean) {
    this.#read = read;
    this.#live = live;
  }

  /** Something in the fleet changed. */
  changed(): void {
    this.#generation += 1;
    this.#cached = undefined;
  }

  get(): Promise<DeviceSummary> {
    const c = this.#cached;
    if (c !== undefined && c.generation === this.#generation && this.#live() && Date.now() - c.at < FleetSummary.MAX_AGE_MS) return Promise.resolve(c.value);
    if (this.#inflight !== undefined && this.#inflight.generation === this.#generation) return this.#inflight.promise;
    const generation = this.#generation;
    const at = Date.now();
    const promise = this.#read().then((value) => {
      if (generation === this.#generation && this.#live()) this.#cached = { value, generation, at };
      return value;
    });
    const entry = { promise, generation };
    this.#inflight = entry;
    const clear = (): void => {
      if (this.#inflight === entry) this.#inflight = undefined;
    };
    void promise.then(clear, clear);
    return promise;
  }
}

export interface DeviceRoutesOptions {
  service: ServiceClient;
  /** Live-update connections end with the login session that opened them. */
  sockets: SessionSockets;
  log: (line: string) => void;
  /** Bounds of the live-update connections (tests make them small). */
  events?: { maxConnections?: number; maxPerSession?: number; maxUnsentBytes?: number; keepaliveMs?: number };
}

export interface DeviceRoutes {
  routes: ApiRoute[];
  events: DeviceEvents;
  close(): void;
}

function signedIn(caller: Caller | undefined): Caller {
  if (caller === undefined) throw unauthorized();
  return caller;
}

export function createDeviceRoutes(o: DeviceRoutesOptions): DeviceRoutes {
  const events = new DeviceEvents({
    ...o.events,
    follow: (onBatch) => followRegistry(o.service, onBatch, o.log),
    log: o.log,
  });
  const summary = new FleetSummary(async () => {
    const s = await o.service.deviceStatistics();
    return { registered: s.totalDeviceCount, enabled: s.enabledDeviceCount, disabled: s.disabledDeviceCount, online: s.connectedDeviceCount };
  }, () => events.following);
  events.onBatch(() => summary.changed());

  const routes: ApiRoute[] = [
    {
      method: 'GET',
      path: '/api/devices',
      run: async (req, res, caller) => {
        signedIn(caller);
        const q = parseDeviceListQuery(splitTarget(req.url).query);
        const page = await o.service.listDevicePage(q).catch((e: unknown) => {
          if (e instanceof DsError && e.code === ErrorCode.ArgumentInvalid && q.continuation !== undefined) {
            throw badRequest('"cursor" is not one the hub gave out (or it has restarted on other data); start again from the first page.');
          }
          throw fromHubError(e);
        });
        const body: DevicePage = { devices: page.devices.map(presentDevice), nextCursor: page.continuation ?? null };
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'GET',
      path: '/api/fleet/summary',
      run: async (req, res, caller) => {
        signedIn(caller);
        if (splitTarget(req.url).query.size > 0) throw badRequest('The device summary takes no parameters.');
        const body: DeviceSummary = await summary.get().catch((e: unknown) => {
          throw fromHubError(e);
        });
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'GET',
      path: '/api/fleet/events',
      run: (req, res, caller) => {
        const who = signedIn(caller);
        if (splitTarget(req.url).query.size > 0) throw badRequest('The device events take no parameters.');
        if (req.method === 'HEAD') {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' }).end();
          return;
        }
        const connection = events.serve(req, res, { sessionKey: who.session.tokenHash });
        const untrack = o.sockets.track({ sessionKey: who.session.tokenHash, operatorId: who.operatorId, role: who.me.role, close: (code, message) => connection.end(code, message) });
        res.once('close', untrack);
      },
    },
    {
      method: 'GET',
      path: '/api/devices/:id',
      run: async (_req, res, caller, params) => {
        signedIn(caller);
        const id = params.id ?? '';
        if (!DEVICE_ID_PATTERN.test(id)) throw badRequest('That is not a valid device id.');
        const d = await o.service.getDevice(id).catch((e: unknown) => {
          throw fromHubError(e);
        });
        sendApiJson(res, 200, presentDevice(d));
      },
    },
  ];
  return { routes, events, close: () => events.close() };
}
