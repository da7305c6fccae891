/**
 * Recording endpoints of the console API. Who may read a recording: admins and viewers (the
 * auditors) any; operators their own sessions only. Only admins delete or change settings.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ConsoleSettings } from '../../shared/console-api.js';
import { ApiFailure, badRequest, forbidden, sendApiJson, unauthorized } from './api-errors.js';
import type { Caller } from './api-routes.js';
import type { Recorder } from './recording/recorder.js';
import { readBody } from '../http/respond.js';

type Route = (req: IncomingMessage, res: ServerResponse, caller: Caller | undefined, match: RegExpExecArray) => Promise<void> | void;

const settingsBody = z.object({ recordInput: z.boolean() }).strict();

/** The caller, if it may read this recording; throws 401/403/404 otherwise. */
function readable(recorder: Recorder, caller: Caller | undefined, streamId: string): NonNullable<ReturnType<Recorder['info']>> {
  if (caller === undefined) throw unauthorized();
  const info = recorder.info(streamId);
  if (info === undefined) throw new ApiFailure(404, 'not_found', 'This recording no longer exists (deleted or past retention).');
  if (caller.me.role === 'operator' && info.operator !== caller.me.name) throw forbidden("replay other operators' sessions");
  return info;
}

export function recordingRoutes(recorder: Recorder, castPath: (streamId: string) => string | undefined): Array<{ method: string; path: RegExp; run: Route }> {
  const id = (m: RegExpExecArray): string => {
    const v = m[1] ?? '';
    if (!/^[A-Za-z0-9-]{1,64}$/.test(v)) throw badRequest('That is not a stream id.');
    return v;
  };
  return [
    {
      method: 'GET',
      path: /^\/api\/recordings\/([^/]+)$/,
      run: (_req, res, caller, m) => sendApiJson(res, 200, readable(recorder, caller, id(m))),
    },
    {
      method: 'GET',
      path: /^\/api\/recordings\/([^/]+)\/cast$/,
      run: (_req, res, caller, m) => {
        const info = readable(recorder, caller, id(m));
        const path = castPath(info.streamId);
        if (path === undefined) throw new ApiFailure(404, 'not_found', 'This recording no longer exists.');
        const file = createReadStream(path);
        file.once('error', () => {
          if (!res.headersSent) {
            sendApiJson(res, 404, { error: { code: 'not_found', message: 'The recording file is missing on the server.' } });
          } else {
            res.destroy();
          }
        });
        file.once('open', () => {
          res.writeHead(200, {
            'content-type': 'application/x-asciicast',
            'content-disposition': `attachment; filename="${info.deviceId.replace(/[^A-Za-z0-9._-]/g, '_')}-${info.streamId}.cast"`,
            'cache-control': 'no-store',
          });
          file.pipe(res);
        });
      },
    },
    {
      method: 'DELETE',
      path: /^\/api\/recordings\/([^/]+)$/,
      run: async (_req, res, caller, m) => {
        if (caller === undefined) throw unauthorized();
        if (caller.me.role !== 'admin') throw forbidden('delete recordings');
        if (!(await recorder.delete(id(m)))) throw new ApiFailure(404, 'not_found', 'This recording no longer exists.');
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: /^\/api\/settings$/,
      run: (_req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        const body: ConsoleSettings = { recordInput: recorder.recordInput };
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'PUT',
      path: /^\/api\/settings$/,
      run: async (req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        if (caller.me.role !== 'admin') throw forbidden('change settings');
        let raw: unknown;
        try {
          raw = JSON.parse((await readBody(req, 4096)).toString('utf8'));
        } catch {
          throw badRequest('The request body must be JSON.');
        }
        const parsed = settingsBody.safeParse(raw);
        if (!parsed.success) throw badRequest('Send {"recordInput": true|false}.');
        recorder.recordInput = parsed.data.recordInput;
        const body: ConsoleSettings = { recordInput: recorder.recordInput };
        sendApiJson(res, 200, body);
      },
    },
  ];
}
