/**
 * A stream of the history in people's words: what came of it and who or what closed it. The log's
 * codes (`deviceOffline`, close code 1006…) stay available in the row's details for whoever needs
 * to search logs for them. Pure functions.
 */
import type { ConsoleStream } from '../../../shared/console-api';
import { CloseCode, describeClose } from '../../../shared/close-codes';

/** Each result code of the stream log, as a person would say it. */
const RESULT_WORDS: Readonly<Record<string, string>> = {
  accepted: 'connected',
  rejected: 'refused by the device',
  deviceNotFound: 'no such device',
  deviceOffline: 'device offline',
  responseTimeout: 'device did not answer',
  handshakeTimeout: 'connection not completed in time',
  throttled: 'too many requests',
  hubRestart: 'hub restarted',
  nodeLost: 'hub node stopped',
};

/** Words for a result code (for the filter's options too); an unknown code is shown as it is. */
export function resultCodeWords(result: string): string {
  return RESULT_WORDS[result] ?? result;
}

/** What came of the stream: its result in words, or where it stands while it has none yet. */
export function resultWords(s: Pick<ConsoleStream, 'result' | 'state' | 'reason'>): string {
  if (s.result === null) return s.state === 'open' ? 'live' : s.state === 'accepted' ? 'connecting' : 'waiting for the device';
  // The hub logs a disabled device's refusal under deviceOffline, with this reason.
  if (s.result === 'deviceOffline' && s.reason === 'device is disabled') return 'device disabled';
  return resultCodeWords(s.result);
}

/** The stream never carried a session: there is no duration to show. */
export function isFailedAttempt(s: Pick<ConsoleStream, 'result'>): boolean {
  return s.result !== null && s.result !== 'accepted';
}

const CLOSERS: Readonly<Record<string, string>> = {
  device: 'closed by the device',
  service: 'closed by the service',
  hub: 'closed by the hub',
  gateway: 'closed by the streaming endpoint',
};

/**
 * Who or what ended the stream, and why when it was not a clean close: "closed by the service
 * (connection lost)", "hub restarted". Null while nothing has closed it.
 */
export function closerWords(s: Pick<ConsoleStream, 'closedBy' | 'closeCode' | 'reason'>): string | null {
  if (s.closedBy === null) return null;
  if (s.reason === 'hubRestart') return 'hub restarted';
  if (s.reason?.startsWith('nodeLost') === true) return 'hub node stopped';
  const who = CLOSERS[s.closedBy] ?? `closed by ${s.closedBy}`;
  return s.closeCode === null || s.closeCode === CloseCode.Normal ? who : `${who} (${describeClose(s.closeCode)})`;
}
