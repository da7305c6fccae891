/**
 * A viewer's terminal page. Viewers open no terminals and move no files (the console server
 * refuses both), so this page opens no socket and shows none of the terminal's controls: it says
 * once why there is no terminal, and leads to what the role may do with this device instead —
 * replay its recorded sessions from History (viewers replay any session; watching one live is for
 * admins). Focus goes to that link, as it goes into the terminal on an operator's page.
 */
import { useEffect, useId, useRef } from 'react';
import { Link } from '../components/link';
import { useDocumentTitle } from '../hooks/use-document-title';
import { paths } from '../router';
import '../terminal/terminal.css';

export default function NoTerminalPage({ deviceId }: { deviceId: string }) {
  useDocumentTitle(`Terminal · ${deviceId}`);
  const id = useId();
  const historyRef = useRef<HTMLAnchorElement>(null);
  useEffect(() => historyRef.current?.focus(), []);
  return (
    <main className="terminal-page">
      <div className="terminal-bar">
        <h1 className="terminal-title mono">{deviceId}</h1>
      </div>
      <div className="terminal-stage">
        <section className="terminal-ended terminal-ended-neutral" aria-labelledby={`${id}-title`}>
          <h2 id={`${id}-title`} className="terminal-ended-title">
            No terminal for viewers
          </h2>
          <p id={`${id}-why`}>
            Your role is viewer: you can see this device and replay its recorded sessions, but not open a terminal or move files. An admin can give your account the operator role.
          </p>
          <div className="terminal-ended-actions">
            <Link ref={historyRef} to={paths.history({ device: deviceId })} className="button button-small button-primary" aria-describedby={`${id}-why`}>
              Replay its sessions in History
            </Link>
            <Link to={paths.devices()} className="button button-small">
              Back to devices
            </Link>
          </div>
        </section>
      </div>
    </main>
  );
}
