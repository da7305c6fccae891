/**
 * Resumable terminal sessions in the console API (see shared/console-api.ts): an operator lists
 * their sessions to reattach one from another tab or browser, and ends one; admins list and end
 * anyone's. Viewers open no terminals, so they have none.
 */
import type { TerminalSessionList } from '../../shared/console-api.js';
import { SESSION_ID_PATTERN } from '../../shared/terminal-protocol.js';
import { splitTarget } from '../http/router.js';
import { ApiFailure, badRequest, forbidden, sendApiJson, unauthorized } from './api-errors.js';
import type { ApiRoute } from './api-routes.js';
import type { ResumableTerminals } from './resumable-terminals.js';

export function terminalSessionRoutes(resumable: ResumableTerminals): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/terminal-sessions',
      run: async (req, res, caller) => {
        if (caller === undefined) throw unauthorized();
        const all = splitTarget(req.url).query.get('all');
        if (all !== null && all !== 'true' && all !== 'false') throw badRequest('"all" must be true or false.');
        if (all === 'true' && caller.me.role !== 'admin') throw forbidden("list other operators' terminal sessions");
        const body: TerminalSessionList = { sessions: await resumable.list(all === 'true' ? undefined : caller.operatorId) };
        sendApiJson(res, 200, body);
      },
    },
    {
      method: 'DELETE',
      path: '/api/terminal-sessions/:id',
      run: async (_req, res, caller, params) => {
        if (caller === undefined) throw unauthorized();
        const id = params.id ?? '';
        if (!SESSION_ID_PATTERN.test(id)) throw badRequest('That is not a terminal session id.');
        const row = await resumable.get(id);
        if (row === undefined) throw new ApiFailure(404, 'not_found', 'This terminal session has already ended.');
        if (row.operatorId !== caller.operatorId && caller.me.role !== 'admin') throw forbidden("end other operators' terminal sessions");
        await resumable.end(row, caller.me.name);
        res.writeHead(204).end();
      },
    },
  ];
}
