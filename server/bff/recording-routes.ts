/**
 * Recording endpoints of the console API. Who may read a recording: admins and viewers (the
 * auditors) any; operators their own sessions only. Only admins delete or change settings.
 */
import { z } from 'zod';
import type { ConsoleSettings, RecordingInfo } from '../../shared/console-api.js';
import { ApiFailure, badRequest, forbidden, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute, Caller } from './api-routes.js';
import type { Recorder } from './recording/recorder.js';
import type { RecordingRow } from '../store/store.js';
import { readBody } from '../http/respond.js';

const settingsBody = z.object({ recordInput: z.boolean() }).strict();

/** The recording, if the caller may read it; throws 401/403/404 otherwise. */
async function readable(recorder: Recorder, caller: Caller | undefined, streamId: string): Promise<{ info: RecordingInfo; row: RecordingRow }> {
  if (caller === undefined) throw unauthorized();
  const found = await recorder.info(streamId);
  if (found === undefined) throw new ApiFailure(404, 'not_found', 'This recording no longer exists (deleted or past retention).');
  // Ownership is the account's id: a later account that reuses a deleted operator's name is somebody else.
  if (caller.me.role === 'operator' && found.row.operatorId !== caller.operatorId) throw forbidden("replay other operators' sessions");
  return found;
}

export function recordingRoutes(recorder: Recorder): ApiRoute[] {
  const id = (params: Record<string, string>): string => {
    const v = params.id ?? '';
    if (!/^[A-Za-z0-9-]{1,64}$/.test(v)) throw badRequest('That is not a stream id.');
    return v;
  };
  return [
    {
      method: 'GET',
      path: '/api/recordings/:id',
      run: async (_req, res, caller, params) => sendApiJson(res, 200, (await readable(recorder, caller, id(params))).info),
    },
    {
      method: 'GET',
      path: '/api/recordings/:id/cast',
      run: async (_req, res, caller, params) => {
        const { info, row } = await readable(recorder, caller, id(params));
        const file = await recorder.read(row);
        if (file === undefined) throw new ApiFailure(404, 'not_found', 'The recording file is missing on the server.');
        file.once('error', () => res.destroy());
        res.writeHead(200, {
          'content-type': 'application/x-asciicast',
          'content-disposition': `attachment; filename="${info.deviceId.replace(/[^A-Za-z0-9._-]/g, '_')}-${info.streamId}.cast"`,
          'cache-control': 'no-store',
        });
        file.pipe(res);
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
      run: async (_req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        const body: ConsoleSettings = { recordInput: await recorder.recordInput() };
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
        await recorder.setRecordInput(parsed.data.recordInput);
        const body: ConsoleSettings = { recordInput: await recorder.recordInput() };
        sendApiJson(res, 200, body);
      },
    },
  ];
}
