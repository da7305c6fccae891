import { useQuery } from '@tanstack/react-query';
import { settingsQuery } from '../api';

/**
 * Tells the operator, in the terminal's status line, that the session is recorded (every console
 * terminal that reaches its device's shell is), and louder when keystrokes are too — passwords
 * typed here would be in the recording. `shown` once the session is open: a device that is
 * offline, disabled or unknown gives no session, so nothing is recorded. The setting is read when
 * the page opens, which is when a new session's recording decides whether to keep keystrokes (a
 * reattached session keeps what it started with).
 */
export function RecordingIndicator({ shown }: { shown: boolean }) {
  // Read fresh when the page opens and then left alone: a change made later applies to the next
  // session, not to this one, so refetching on focus would make the line say the wrong thing.
  const settings = useQuery({ ...settingsQuery(), refetchOnMount: 'always', refetchOnWindowFocus: false, staleTime: Infinity });
  const keystrokes = settings.data?.recordInput === true;
  if (!shown) return null;
  if (keystrokes) {
    return (
      <span className="recording-indicator recording-indicator-loud" title="An admin turned on keystroke recording (Settings)">
        <span aria-hidden="true">●</span> Recorded, keystrokes too: passwords you type are recorded
      </span>
    );
  }
  return (
    <span className="recording-indicator" title="Output is recorded for replay; keystrokes are not">
      <span aria-hidden="true">●</span> Recorded
    </span>
  );
}
