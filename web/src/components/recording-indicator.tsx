import { useSettings } from '../hooks/use-settings';

/**
 * Tells the operator, in the terminal's status line, that the session is recorded (every console
 * terminal is), and louder when keystrokes are too — passwords typed here would be in the
 * recording. The setting is read when the page opens, which is when the session's recording
 * decides whether to keep keystrokes.
 */
export function RecordingIndicator() {
  const settings = useSettings(true);
  const keystrokes = settings.data?.recordInput === true;
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
