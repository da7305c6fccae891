/**
 * The console's file transfers (shared/console-files.ts): the BFF opens a `files` stream to the
 * device in the operator's name and pipes the browser's request body into it (upload) or the
 * device's bytes into the response (download). Nothing is held whole: each hop is a pipe with
 * backpressure (the browser's TCP window, the stream's bounded resume buffer, the file server's
 * disk), so memory stays flat whatever the file's size. The file server decides what is allowed
 * (its root, symlinks, sizes); its refusals become typed errors with what to do.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished, pipeline } from 'node:stream/promises';
import { FILE_API_ERRORS, FILE_SERVER_ERROR_PREFIX, CONSOLE_FILES_STREAM, MAX_CONSOLE_UPLOAD_BYTES, downloadName, type DownloadCheck, type FileUploaded } from '../../shared/console-files.js';
import { DsError, ErrorCode } from '../../shared/errors.js';
import { FILE_PROTOCOL_VERSION, MAX_PATH_CHARS, encodeHeader, type FileErrorCode } from '../../shared/file-protocol.js';
import { DEVICE_ID_PATTERN } from '../../shared/limits.js';
import type { TransferDirection } from '../../shared/transfer.js';
import { splitTarget } from '../http/router.js';
import { FileTransferError, NO_ANSWER, NO_HALF_CLOSE, closeWhenDone, counter, peerHalfCloses, readResponse } from '../sdk/file-client.js';
import { StreamRejectedError, type ServiceClient, type ServiceStream } from '../sdk/service-client.js';
import { ApiFailure, badRequest, forbidden, fromHubError, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute, Caller } from './api-routes.js';
import { connectTimeoutFor } from './terminal-refusals.js';

export interface FileRoutesOptions {
  service: ServiceClient;
  /** Puts a marker in the recording of the caller's terminal session `sessionId` on `deviceId`, if it is being recorded. */
  mark: (who: { sessionId: string; deviceId: string; operatorId: string }, label: string) => Promise<void>;
  /** How long to wait for the device to be connected, and for its answer (default 10 s each). */
  connectTimeoutSeconds?: number;
  responseTimeoutSeconds?: number;
  log: (line: string) => void;
}

/** What each transfer may hold unacknowledged on its stream, and in its byte counter. */
const STREAM_BUFFER_BYTES = 1024 * 1024;
const PIPE_BYTES = 64 * 1024;
/** An upload in which nothing arrives for this long is given up (there is no limit on the whole). */
const UPLOAD_IDLE_MS = 60_000;

/** HTTP status for each file server error: what the browser should make of it. */
const STATUS: Readonly<Record<FileErrorCode | 'protocol', number>> = {
  'outside-root': 400,
  'not-found': 404,
  permission: 403,
  'no-space': 507,
  'is-directory': 400,
  'too-large': 413,
  'short-upload': 400,
  'bad-request': 502,
  'io-error': 502,
  protocol: 502,
};

/** A file server's refusal as the console says it: code `file_<its code>`, its sentence and what to do. */
function fromFileError(err: FileTransferError): ApiFailure {
  return new ApiFailure(STATUS[err.code], `${FILE_SERVER_ERROR_PREFIX}${err.code.replace(/-/g, '_')}`, `${sentence(err.message)}`);
}

/** Ends with a full stop; the case is left alone (a message may start with a path, which is case-sensitive). */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

const HOW_TO_MAP = `run "devicestreams file-server --root DIR --listen unix:PATH" on the device and map it on its agent with --map ${CONSOLE_FILES_STREAM}=unix:PATH`;

/** Why the stream could not be opened, as the console says it. */
function fromInitiation(err: unknown, deviceId: string): ApiFailure {
  if (err instanceof StreamRejectedError) {
    return new ApiFailure(409, FILE_API_ERRORS.noFileServer, `${deviceId} has no working "${CONSOLE_FILES_STREAM}" service (${err.reason}); ${HOW_TO_MAP}.`);
  }
  if (err instanceof DsError && err.code === ErrorCode.DeviceNotOnline) {
    return new ApiFailure(503, FILE_API_ERRORS.deviceOffline, `${deviceId} is not connected to the hub; start its agent, and for files ${HOW_TO_MAP}.`);
  }
  if (err instanceof DsError && err.code === ErrorCode.DeviceDisabled) {
    return new ApiFailure(409, FILE_API_ERRORS.deviceDisabled, `${deviceId} is disabled in the registry; an admin can enable it, then try again.`);
  }
  if (err instanceof DsError && err.code === ErrorCode.DeviceResponseTimeout) {
    return new ApiFailure(504, FILE_API_ERRORS.deviceTimeout, `${deviceId} did not answer the stream request in time; its agent may be overloaded or its network slow. Try again.`);
  }
  if (err instanceof DsError && (err.code === ErrorCode.ThrottledDevice || err.code === ErrorCode.ThrottledHub || err.code === ErrorCode.ThrottledRate)) {
    return new ApiFailure(429, FILE_API_ERRORS.busy, `The hub is busy: ${err.message}. Try again in a moment.`);
  }
  return fromHubError(err);
}

function operatorOnly(caller: Caller | undefined): Caller {
  if (caller === undefined) throw unauthorized();
  if (caller.me.role !== 'admin' && caller.me.role !== 'operator') throw forbidden('move files to or from devices (operators and admins only)');
  return caller;
}

interface Target {
  deviceId: string;
  path: string;
  sessionId: string | undefined;
}

function target(req: IncomingMessage, params: Record<string, string>): Target {
  const deviceId = params.id ?? '';
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw badRequest('That is not a valid device id.');
  const q = splitTarget(req.url).query;
  const path = q.get('path') ?? '';
  // eslint-disable-next-line no-control-regex
  if (path === '' || path.length > MAX_PATH_CHARS || /[\u0000\r\n]/.test(path)) throw badRequest(`"path" must be a path on the device (1 to ${MAX_PATH_CHARS} characters), relative to its file server's root.`);
  const session = q.get('session') ?? undefined;
  if (session !== undefined && !/^[0-9a-f]{32}$/.test(session)) throw badRequest('"session" must be the id of a terminal session.');
  return { deviceId, path, sessionId: session };
}

function describe(direction: TransferDirection, path: string, size: number | undefined): string {
  return `file ${direction} ${JSON.stringify(path)}${size === undefined ? '' : ` (${size} bytes)`}`;
}

export function fileRoutes(o: FileRoutesOptions): ApiRoute[] {
  /** The stream to the device's file server; `direction` labels it in the log (a check is no transfer). */
  const open = async (caller: Caller, t: Target, direction: TransferDirection | undefined): Promise<ServiceStream> => {
    // A device the registry shows offline gets the terminal's short grace, so "offline" is said at once.
    const entry = await o.service.getDevice(t.deviceId).catch(() => undefined);
    const connectTimeoutSeconds = connectTimeoutFor(entry, o.connectTimeoutSeconds ?? 10);
    try {
      return await o.service.initiateStream(t.deviceId, CONSOLE_FILES_STREAM, {
        operator: caller.me.name,
        transfer: direction === undefined ? undefined : { direction, path: t.path },
        // An upload ends with end of input, which only a v2 stream carries; a short resume window,
        // since a browser that went away is not coming back for this stream,
        // and a small unacknowledged window: a console node carries many transfers at once.
        resumable: { windowSeconds: 30, bufferBytes: STREAM_BUFFER_BYTES },
        connectTimeoutSeconds,
        responseTimeoutSeconds: o.responseTimeoutSeconds ?? 10,
      });
    } catch (err) {
      throw fromInitiation(err, t.deviceId);
    }
  };
  /** Marks the terminal's recording; a recording that cannot be marked never fails the transfer. */
  const mark = (caller: Caller, t: Target, label: string): Promise<void> => {
    if (t.sessionId === undefined) return Promise.resolve();
    return o.mark({ sessionId: t.sessionId, deviceId: t.deviceId, operatorId: caller.operatorId }, label)
      .catch((err: unknown) => o.log(`file transfer: could not mark the recording: ${err instanceof Error ? err.message : String(err)}`));
  };

  return [
    {
      method: 'PUT',
      path: '/api/devices/:id/files',
      run: async (req, res, who, params) => {
        const caller = operatorOnly(who);
        const t = target(req, params);
        const length = req.headers['content-length'];
        if (length === undefined || !/^\d{1,16}$/.test(length)) {
          throw new ApiFailure(411, FILE_API_ERRORS.lengthRequired, 'Send the file with a Content-Length; the device must know its size before the first byte.');
        }
        const size = Number(length);
        if (size > MAX_CONSOLE_UPLOAD_BYTES) {
          throw new ApiFailure(413, FILE_API_ERRORS.tooLarge, `The file is ${size} bytes; the console uploads files up to ${MAX_CONSOLE_UPLOAD_BYTES} bytes (use "devicestreams cp" for larger ones).`);
        }
        await upload(req, res, caller, t, size);
      },
    },
    {
      method: 'GET',
      path: '/api/devices/:id/files',
      run: async (req, res, who, params) => {
        const caller = operatorOnly(who);
        const check = splitTarget(req.url).query.get('check');
        if (check !== null && check !== '1') throw badRequest('"check" must be 1.');
        await download(req, res, caller, target(req, params), check === '1');
      },
    },
  ];

  async function upload(req: IncomingMessage, res: ServerResponse, caller: Caller, t: Target, size: number): Promise<void> {
    // The browser may give up at any time: then the stream is destroyed without its end of input,
    // and the file server removes its temporary file (an upload that ends short leaves nothing).
    let cancelled = false;
    let silent = false;
    const onClose = (): void => {
      if (!req.complete) cancelled = true;
    };
    req.once('close', onClose);
    const stream = await open(caller, t, 'upload');
    const what = describe('upload', t.path, size);
    try {
      if (!(await peerHalfCloses(stream))) throw new FileTransferError('protocol', NO_HALF_CLOSE);
      stream.write(encodeHeader({ v: FILE_PROTOCOL_VERSION, op: 'put', path: t.path, size }));
      const ready = await readResponse(stream, NO_ANSWER);
      if (ready.type !== 'ready') throw new FileTransferError('protocol', `the device answered "${ready.type}" to an upload`);
      await mark(caller, t, `${what} started by ${caller.me.name}`);
      const answer = readResponse(stream, `the stream ended before the device confirmed ${t.path}; it may not be in place, upload again`);
      answer.catch(() => undefined);
      // No deadline for the whole body (a large file over a slow link), but a minute of silence ends it.
      const idle = setTimeout(() => {
        silent = true;
        req.destroy();
      }, UPLOAD_IDLE_MS);
      const gate = counter(size, () => idle.refresh(), (got) => new FileTransferError('short-upload', `the upload of ${t.path} stopped after ${got} of ${size} bytes`), PIPE_BYTES);
      // The request is piped in rather than put in the pipeline: a failure must not destroy it,
      // or the browser would never see the answer that says what went wrong.
      const sent = pipeline(gate, stream);
      sent.catch(() => undefined);
      const stopOnLoss = (): void => {
        if (!req.complete) gate.destroy(new FileTransferError('short-upload', 'the browser stopped sending'));
      };
      req.once('close', stopOnLoss);
      req.once('error', stopOnLoss);
      req.pipe(gate);
      let first: Awaited<typeof answer> | undefined;
      try {
        // An early answer (the device failed mid-way) ends the upload at once; a complete upload waits for it.
        first = await Promise.race([sent.then(() => undefined), answer]);
      } finally {
        clearTimeout(idle);
        req.off('close', stopOnLoss);
        req.off('error', stopOnLoss);
        if (!req.complete) req.unpipe(gate);
      }
      const done = first ?? await answer;
      if (done.type !== 'done' || done.size !== size) throw new FileTransferError('protocol', `the device answered "${done.type}" to a complete upload`);
      await mark(caller, t, `${what} done`);
      await closeWhenDone(stream);
      o.log(`console: ${caller.me.name} uploaded ${size} bytes to ${t.deviceId}:${t.path} (stream ${stream.streamId ?? '?'})`);
      const body: FileUploaded = { path: t.path, size };
      sendApiJson(res, 201, body);
    } catch (err) {
      const failure = silent
        ? new ApiFailure(408, FILE_API_ERRORS.cancelled, `Nothing of the file arrived for ${UPLOAD_IDLE_MS / 1000} s, so the upload stopped; nothing was written on the device.`)
        : cancelled ? new ApiFailure(499, FILE_API_ERRORS.cancelled, 'The browser stopped the upload; nothing was written on the device.') : asFailure(err);
      await mark(caller, t, `${what} failed: ${failure.message}`);
      o.log(`console: ${caller.me.name}'s upload to ${t.deviceId}:${t.path} failed: ${failure.message}`);
      // What is left of the body is not read: the answer goes out now and the connection closes.
      if (!req.complete) failure.headers.connection = 'close';
      throw failure;
    } finally {
      req.off('close', onClose);
      stream.destroy();
    }
  }

  /** With `check`: only whether the file can be downloaded, and its size (the page asks before it hands the URL to the browser). */
  async function download(req: IncomingMessage, res: ServerResponse, caller: Caller, t: Target, check: boolean): Promise<void> {
    const stream = await open(caller, t, check ? undefined : 'download');
    let size: number | undefined;
    try {
      stream.end(encodeHeader({ v: FILE_PROTOCOL_VERSION, op: 'get', path: t.path }));
      const header = await readResponse(stream, NO_ANSWER);
      if (header.type !== 'file') throw new FileTransferError('protocol', `the device answered "${header.type}" to a download`);
      size = header.size;
      if (check) {
        const body: DownloadCheck = { path: t.path, size };
        sendApiJson(res, 200, body);
        // Only the size was wanted: the bytes that follow are not.
        stream.destroy();
        return;
      }
      const what = describe('download', t.path, size);
      await mark(caller, t, `${what} started by ${caller.me.name}`);
      const name = downloadName(t.path);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        // An ASCII fallback for old clients, and the exact name (RFC 6266/5987) for the rest.
        'content-disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      const short = (got: number): Error => new FileTransferError('short-upload', `the download of ${t.path} ended after ${got} of ${size ?? 0} bytes`);
      // Done when the response has all `size` bytes (the counter ends it there), not when the
      // device's end of the stream arrives too: closeWhenDone bounds the wait for that below.
      const copied = pipeline(stream, counter(size, () => undefined, short, PIPE_BYTES), res);
      copied.catch(() => undefined);
      try {
        await Promise.race([copied, finished(res)]);
      } catch (err) {
        await mark(caller, t, `${what} stopped: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
      await mark(caller, t, `${what} done`);
      await closeWhenDone(stream);
      o.log(`console: ${caller.me.name} downloaded ${size} bytes from ${t.deviceId}:${t.path} (stream ${stream.streamId ?? '?'})`);
    } catch (err) {
      // Once the bytes flow, a failure can only cut the response short: the browser shows the download as failed.
      if (res.headersSent) {
        o.log(`console: ${caller.me.name}'s download of ${t.deviceId}:${t.path} stopped: ${err instanceof Error ? err.message : String(err)}`);
        res.destroy();
        return;
      }
      throw asFailure(err);
    } finally {
      stream.destroy();
    }
  }
}

function asFailure(err: unknown): ApiFailure {
  if (err instanceof ApiFailure) return err;
  if (err instanceof FileTransferError) return fromFileError(err);
  return new ApiFailure(502, FILE_API_ERRORS.streamFailed, `The stream to the device failed: ${err instanceof Error ? err.message : String(err)}; try again.`);
}
