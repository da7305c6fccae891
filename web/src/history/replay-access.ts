import type { ConsoleStream, Me } from '../../../shared/console-api';

/**
 * Whether `me` may replay the recording of `stream`, by the server's rule (GET /api/recordings/:id):
 * admins and viewers (the auditors) replay any session; an operator only the sessions they opened.
 * The server compares account ids and the history carries only the operator's name, so a session
 * of a deleted account whose name was given to a new one still reads as the new account's own here
 * (and the server refuses it).
 */
export function mayReplay(me: Me, stream: Pick<ConsoleStream, 'operator'>): boolean {
  return me.role !== 'operator' || stream.operator === me.name;
}
