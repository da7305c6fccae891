/**
 * Stream initiation in the wire shape of Azure IoT Hub device streams (preview):
 * `POST /twins/{deviceId}/streams/{streamName}` with the two timeout headers, answered with
 * `iothub-streaming-*` headers. Plus endpoint discovery and the stream log.
 */
import { z } from 'zod';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { DEFAULT_STREAM_TIMEOUT_SECONDS, DEVICE_ID_PATTERN, MAX_STREAM_TIMEOUT_SECONDS, STREAM_NAME_PATTERN } from '../../shared/limits.js';
import { checkInternalKey } from '../gateway/remote-control.js';
import { readJson, sendJson } from '../http/respond.js';
import type { Router } from '../http/router.js';
import { STREAM_RESULTS, type StreamResult } from '../store/store.js';
import type { HubContext } from './hub-context.js';
import { presentInterruption, presentStream } from './presenters.js';
import { DEFAULT_RESUME_WINDOW_MS, MAX_RESUME_WINDOW_MS } from '../../shared/stream-protocol.js';
import { TRANSFER_HEADER, TransferHeaderError, parseTransferHeader, type TransferLabel } from '../../shared/transfer.js';

/** Header a trusted service (the console's BFF) sets to name the operator it acts for. */
export const OPERATOR_HEADER = 'x-devicestreams-operator';

function timeoutHeader(value: string | string[] | undefined, name: string): number {
  if (value === undefined) return DEFAULT_STREAM_TIMEOUT_SECONDS * 1000;
  const text = Array.isArray(value) ? value[0] ?? '' : value;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > MAX_STREAM_TIMEOUT_SECONDS) {
    throw new DsError(ErrorCode.ArgumentInvalid, `header ${name} must be a number of seconds from 0 to ${MAX_STREAM_TIMEOUT_SECONDS}`);
  }
  return Math.round(n * 1000);
}

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  const asNumber = Number(v);
  const ms = Number.isFinite(asNumber) ? asNumber : Date.parse(v);
  if (!Number.isFinite(ms)) throw new DsError(ErrorCode.ArgumentInvalid, `query parameter ${name} must be epoch milliseconds or an ISO time`);
  return ms;
}

const gatewayEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('opened'), v2: z.boolean().optional() }),
  z.object({
    event: z.literal('ended'),
    closedBy: z.enum(['device', 'service', 'hub', 'gateway']),
    closeCode: z.number().int().nullable(),
    reason: z.string().max(500),
    bytesToDevice: z.number().int().nonnegative(),
    bytesFromDevice: z.number().int().nonnegative(),
  }),
  z.object({ event: z.literal('interrupted'), bytesToDevice: z.number().int().nonnegative(), bytesFromDevice: z.number().int().nonnegative(), at: z.number().int().nonnegative().optional() }),
  z.object({ event: z.literal('resumed') }),
]);

/** Header a client sets to ask for a resumable (v2) stream; its value is the resume window in seconds (or "true"). */
export const RESUMABLE_HEADER = 'x-devicestreams-resumable';
/** Header of the answer that carries the service side's resume key. */
export const RESUME_KEY_HEADER = 'x-devicestreams-resume-key';

function resumeWindow(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase() ?? '';
  if (text === 'false' || text === '0' || text === '') return undefined;
  if (text === 'true') return DEFAULT_RESUME_WINDOW_MS;
  const secs = Number(text);
  if (!Number.isFinite(secs) || secs < 1 || secs * 1000 > MAX_RESUME_WINDOW_MS) {
    throw new DsError(ErrorCode.ArgumentInvalid, `header ${RESUMABLE_HEADER} must be "true" or a resume window of 1 to ${MAX_RESUME_WINDOW_MS / 1000} seconds`);
  }
  return Math.round(secs * 1000);
}

/** The transfer header's label, null without one; a malformed one is refused (400) before anything is logged. */
function transferLabel(value: string | string[] | undefined): TransferLabel | null {
  if (value === undefined) return null;
  if (Array.isArray(value)) throw new DsError(ErrorCode.ArgumentInvalid, `give header ${TRANSFER_HEADER} once`);
  try {
    return parseTransferHeader(value);
  } catch (err) {
    if (err instanceof TransferHeaderError) throw new DsError(ErrorCode.ArgumentInvalid, err.message);
    throw err;
  }
}

export function addStreamRoutes(router: Router, hub: HubContext): void {
  const { auth, broker, store } = hub;

  router.add('POST', '/twins/:deviceId/streams/:streamName', async ({ req, res, params }) => {
    const principal = await auth.service(req.headers.authorization, ['ServiceConnect']);
    const deviceId = params.deviceId as string;
    const streamName = params.streamName as string;
    if (!DEVICE_ID_PATTERN.test(deviceId)) throw new DsError(ErrorCode.ArgumentInvalid, 'device id is not valid');
    if (!STREAM_NAME_PATTERN.test(streamName)) {
      throw new DsError(ErrorCode.ArgumentInvalid, 'stream name must be 1-64 characters of letters, digits, "-", "." and "_"');
    }
    const connectTimeoutMs = timeoutHeader(req.headers['iothub-streaming-connect-timeout-in-seconds'], 'iothub-streaming-connect-timeout-in-seconds');
    const responseTimeoutMs = timeoutHeader(req.headers['iothub-streaming-response-timeout-in-seconds'], 'iothub-streaming-response-timeout-in-seconds');
    const op = req.headers[OPERATOR_HEADER];
    const operator = typeof op === 'string' && op !== '' ? op.slice(0, 128) : null;
    const resumeWindowMs = resumeWindow(req.headers[RESUMABLE_HEADER]);
    const transfer = transferLabel(req.headers[TRANSFER_HEADER]);
    req.resume();
    const result = await broker.initiate({ deviceId, streamName, initiator: principal.policy, operator, transfer, connectTimeoutMs, responseTimeoutMs, resumeWindowMs });
    const headers: Record<string, string> = {
      'iothub-streaming-is-accepted': result.accepted ? 'True' : 'False',
      'x-devicestreams-stream-id': result.streamId,
    };
    if (result.accepted) {
      headers['iothub-streaming-url'] = result.url;
      headers['iothub-streaming-auth-token'] = result.authToken;
      if (result.resumeKey !== undefined) headers[RESUME_KEY_HEADER] = result.resumeKey;
      sendJson(res, 200, { streamId: result.streamId, isAccepted: true }, headers);
    } else {
      sendJson(res, 200, { streamId: result.streamId, isAccepted: false, reason: result.reason }, headers);
    }
  });

  router.add('GET', '/devicestreams', async ({ req, res }) => {
    await auth.service(req.headers.authorization, ['ServiceConnect', 'RegistryRead', 'RegistryView']);
    sendJson(res, 200, { streamingEndpoints: hub.streamingEndpoints() });
  });

  router.add('GET', '/streams', async ({ req, res, query }) => {
    await auth.service(req.headers.authorization, ['ServiceConnect', 'RegistryRead', 'RegistryView']);
    const result = query.get('result') ?? undefined;
    if (result !== undefined && !STREAM_RESULTS.includes(result as StreamResult)) {
      throw new DsError(ErrorCode.ArgumentInvalid, `query parameter result must be one of ${STREAM_RESULTS.join(', ')}`);
    }
    const limit = Math.min(Math.max(Number(query.get('limit') ?? '50') || 50, 1), 1000);
    const beforeId = query.get('beforeId') ?? undefined;
    if (beforeId !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(beforeId)) throw new DsError(ErrorCode.ArgumentInvalid, 'query parameter beforeId must be a stream id');
    const rows = await store.streams.list({
      deviceId: query.get('deviceId') ?? undefined,
      result: result as StreamResult | undefined,
      initiator: query.get('initiator') ?? undefined,
      operator: query.get('operator') ?? undefined,
      before: numberParam(query, 'before'),
      beforeId,
      since: numberParam(query, 'since'),
      limit,
    });
    const last = rows.at(-1);
    const more = rows.length === limit && last !== undefined;
    // The next page starts after the last row: its time and, for rows of the same millisecond, its id.
    sendJson(res, 200, { streams: rows.map(presentStream), nextBefore: more ? last.createdAt : null, nextBeforeId: more ? last.id : null });
  });

  router.add('GET', '/streams/:id', async ({ req, res, params }) => {
    await auth.service(req.headers.authorization, ['ServiceConnect', 'RegistryRead', 'RegistryView']);
    const s = await store.streams.get(params.id as string);
    if (s === undefined) throw new DsError(ErrorCode.StreamNotFound, `stream "${params.id}" is not in the log`);
    const interruptions = s.interruptions > 0 ? (await store.streams.interruptionsOf(s.id, 100)).map(presentInterruption) : [];
    sendJson(res, 200, { ...presentStream(s), interruptionLog: interruptions });
  });

  // A streaming endpoint running as its own process reports stream events here.
  router.add('POST', '/internal/streams/:id', async ({ req, res, params }) => {
    checkInternalKey(req.headers.authorization, hub.gatewayReportKey);
    const parsed = gatewayEvent.safeParse(await readJson(req));
    if (!parsed.success) throw new DsError(ErrorCode.InvalidRequest, `invalid stream event: ${parsed.error.issues[0]?.message ?? ''}`);
    const e = parsed.data;
    const id = params.id as string;
    if (e.event === 'opened') await broker.opened(id, e.v2);
    else if (e.event === 'interrupted') await broker.interrupted(id, e, e.at);
    else if (e.event === 'resumed') await broker.resumed(id);
    else await broker.ended(id, e);
    res.writeHead(204).end();
  });
}
