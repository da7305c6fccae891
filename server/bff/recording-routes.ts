/**
 * Recording endpoints of the console API. Who may read a recording: admins and viewers (the
 * auditors) any; operators their own sessions only. Only admins delete or change settings.
 */
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import type { ConsoleSettings, RecordingInfo } from '../../shared/console-api.js';
import { ApiFailure, badRequest, forbidden, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute, Caller } from './api-routes.js';
import type { Recorder } from './recording/recorder.js';
import type { RecordingRow } from './recording/recording-store.js';
import { readBody } from '../http/respond.js';

const settingsBody = z.object({ recordInput: z.boolean() }).strict();

/** The recording, if the caller may read it; throws 401/403/404 otherwise. */
function readable(recorder: Recorder, rowOf: (streamId: string) => RecordingRow | undefined, caller: Caller | undefined, streamId: string): { info: RecordingInfo; row: RecordingRow } {
  if (caller === undefined) throw unauthorized();
  const info = recorder.info(streamId);
  const row = rowOf(streamId);
  if (info === undefined || row === undefined) throw new ApiFailure(404, 'not_found', 'This recording no longer exists (deleted or past retention).');
  // Ownership is the account's id: a later account that reuses a deleted operator's name is somebody else.
  if (caller.me.role === 'operator' && row.operatorId !== caller.operatorId) throw forbidden("replay other operators' sessions");
  return { info, row };
}

export function recordingRoutes(recorder: Recorder, rowOf: (streamId: string) => RecordingRow | undefined): ApiRoute[] {
  const id = (params: Record<string, string>): string => {
    const v = params.id ?? '';
    if (!/^[A-Za-z0-9-]{1,64}$/.test(v)) throw badRequest('That is not a stream id.');
    return v;
  };
  return [
    {
      method: 'GET',
      path: '/api/recordings/:id',
      run: (_req, res, caller, params) => sendApiJson(res, 200, readable(recorder, rowOf, caller, id(params)).info),
    },
    {
      method: 'GET',
      path: '/api/recordings/:id/cast',
      run: (_req, res, caller, params) => {
        const { info, row } = readable(recorder, rowOf, caller, id(params));
        const file = createReadStream(row.path);
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
      path: '/api/recordings/:id',
      run: async (_req, res, caller, params) => {
        if (caller === undefined) throw unauthorized();
        if (caller.me.role !== 'admin') throw forbidden('delete recordings');
        if (!(await recorder.delete(id(params)))) throw new ApiFailure(404, 'not_found', 'This recording no longer exists.');
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: '/api/settings',
      run: (_req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        const body: ConsoleSettings = { recordInput: recorder.recordInput };
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'PUT',
      path: '/api/settings',
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
