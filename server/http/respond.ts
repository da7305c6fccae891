/** Turning results and errors into HTTP answers, and reading bounded request bodies. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DsError, ErrorCode, errorName, type ErrorBody } from '../../shared/errors.js';
import { MAX_REST_BODY_BYTES } from '../../shared/limits.js';

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** The Azure-shaped error body for an error; unknown errors become 500001 with a tracking id. */
export function errorBody(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const trackingId = randomUUID();
  const ds = err instanceof DsError ? err : new DsError(ErrorCode.InternalError, `internal error (tracking id ${trackingId})`);
  const headers: Record<string, string> = {};
  if (ds.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(ds.retryAfterSeconds)));
  const timestampUtc = new Date().toISOString();
  return {
    status: ds.status,
    body: {
      errorCode: ds.code,
      trackingId,
      message: ds.message,
      timestampUtc,
      // Azure's older field, which the published azure-iothub client parses into typed errors
      // (DeviceNotFoundError, DeviceAlreadyExistsError, …).
      Message: `ErrorCode:${errorName(ds.code)};${ds.message}`,
      ExceptionMessage: `Tracking ID:${trackingId}-TimeStamp:${timestampUtc}`,
    },
    headers,
  };
}

/** Writes an error answer; a 500 is also logged with its tracking id. */
export function sendError(res: ServerResponse, err: unknown, log: (line: string) => void = console.error): void {
  const { status, body, headers } = errorBody(err);
  if (status >= 500 && status !== 503 && status !== 504) log(`[${body.trackingId}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body, headers);
}

/** How long a body read whole (JSON, at most MAX_REST_BODY_BYTES) may take to arrive. */
export const BODY_DEADLINE_MS = 30_000;

/**
 * Reads a request body of at most `limit` bytes; answers 413 by throwing past it. A body still
 * incomplete after `deadlineMs` ends the connection (a client that trickles a body holds nothing
 * for long) and throws RequestBodyTimeout.
 */
export async function readBody(req: IncomingMessage, limit = MAX_REST_BODY_BYTES, deadlineMs = BODY_DEADLINE_MS): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new DsError(ErrorCode.PayloadTooLarge, `request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  // The server times no body as a whole (uploads may take long): a small one gets a deadline here.
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    req.destroy();
  }, deadlineMs);
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) throw new DsError(ErrorCode.PayloadTooLarge, `request body larger than ${limit} bytes`);
      chunks.push(buf);
    }
  } catch (err) {
    if (late) throw new DsError(ErrorCode.RequestBodyTimeout, `the request body did not arrive within ${Math.round(deadlineMs / 1000)} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (late) throw new DsError(ErrorCode.RequestBodyTimeout, `the request body did not arrive within ${Math.round(deadlineMs / 1000)} s`);
  return Buffer.concat(chunks);
}

/** Reads and parses a JSON body; a malformed one is a 400 that says so. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  if (body.length === 0) throw new DsError(ErrorCode.InvalidRequest, 'request body is empty; send JSON');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new DsError(ErrorCode.InvalidRequest, 'request body is not valid JSON');
  }
}
