/** Errors of the console API: `{ error: { code, message } }`, each message a sentence for the operator. */
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../../shared/console-api.js';
import { DsError, ErrorCode } from '../../shared/errors.js';

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const unauthorized = (): ApiFailure => new ApiFailure(401, 'unauthorized', 'Your session has ended; log in again.');
export const forbidden = (what: string): ApiFailure => new ApiFailure(403, 'forbidden', `Your role may not ${what}.`);
export const badRequest = (message: string): ApiFailure => new ApiFailure(400, 'bad_request', message);

/** What the console says when its router refuses a request (bad URL encoding, wrong method). */
export function routingFailure(err: unknown): ApiFailure {
  if (err instanceof DsError && err.code === ErrorCode.MethodNotAllowed) return new ApiFailure(405, 'method_not_allowed', 'That method is not allowed here.');
  if (err instanceof DsError && err.status === 400) return badRequest('The address is not valid URL encoding.');
  return err instanceof ApiFailure ? err : new ApiFailure(500, 'internal', 'Something went wrong in the console server; the log has details.');
}

/** Turns a hub error into what the console should say. */
export function fromHubError(err: unknown): ApiFailure {
  if (err instanceof ApiFailure) return err;
  if (err instanceof DsError) {
    switch (err.code) {
      case ErrorCode.DeviceNotFound:
        return new ApiFailure(404, 'not_found', err.message);
      case ErrorCode.StreamNotFound:
        return new ApiFailure(404, 'not_found', err.message);
      case ErrorCode.ArgumentInvalid:
      case ErrorCode.InvalidRequest:
        return new ApiFailure(400, 'bad_request', err.message);
      case ErrorCode.Unauthorized:
      case ErrorCode.TokenExpired:
      case ErrorCode.WrongScope:
      case ErrorCode.Forbidden:
      case ErrorCode.MissingCredentials:
        return new ApiFailure(502, 'hub_credentials', 'The hub refused the console\'s credentials; check the console\'s service connection string.');
      default:
        return new ApiFailure(502, 'hub_error', `The hub answered with an error: ${err.message}`);
    }
  }
  return new ApiFailure(502, 'hub_unreachable', `The console cannot reach the hub: ${err instanceof Error ? err.message : String(err)}`);
}

export function sendApiJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendApiError(res: ServerResponse, err: unknown, log: (line: string) => void): void {
  const f = err instanceof ApiFailure ? err : new ApiFailure(500, 'internal', 'Something went wrong in the console server; the log has details.');
  if (!(err instanceof ApiFailure)) log(`console: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ApiError = { error: { code: f.code, message: f.message } };
  sendApiJson(res, f.status, body, f.headers);
}
