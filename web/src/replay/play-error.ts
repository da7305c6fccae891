/** The sentence the replay page shows when a recording cannot be loaded or played. Pure. */
import { isApiError } from '../api';
import { AsciicastError } from './asciicast';

export const GONE_MESSAGE = 'This recording no longer exists (deleted or past retention).';
export const FORBIDDEN_MESSAGE = 'Your role may not replay recordings. Ask an admin for access.';

/** Why the recording cannot be shown, for a role="alert" region. */
export function describePlayError(err: unknown): string {
  if (err instanceof AsciicastError) {
    const what =
      err.line !== null && (err.code === 'not_json_array' || err.code === 'bad_event' || err.code === 'too_large')
        ? `line ${err.line} is not valid asciicast (${err.reason})`
        : err.reason;
    return `This recording cannot be played: ${what}.`;
  }
  if (isApiError(err, 404)) return GONE_MESSAGE;
  // The server says what the role may not do ("Your role may not replay other operators' sessions.").
  if (isApiError(err, 403)) return err.code === 'http_403' ? FORBIDDEN_MESSAGE : err.message;
  if (err instanceof Error) return `The recording could not be loaded: ${err.message}`;
  return 'The recording could not be loaded.';
}
