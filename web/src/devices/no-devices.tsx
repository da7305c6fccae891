import { EmptyState } from '../components/states';

/** The README's quick-start commands (device name and paths as there). */
const REGISTER = 'devicestreams device create pump-17\ndevicestreams device connection-string pump-17';
const SHELL_SERVER = 'devicestreams shell-server --user pi &';
const AGENT = 'devicestreams agent --connection-string "$DEVICE_CONNECTION_STRING" --ca ca.pem \\\n  --map shell=unix:/run/devicestreams/shell.sock';

/**
 * What an empty fleet says: the steps that bring a device into the list with a terminal (register
 * it, run the shell server, run the agent with a `shell` mapping).
 */
export function NoDevices() {
  return (
    <EmptyState>
      <p>No devices yet. To bring one online:</p>
      <ol className="steps">
        <li>
          On the server, register it and get its connection string:
          <pre className="mono">{REGISTER}</pre>
        </li>
        <li>
          On the device, start the shell server (it serves this console&apos;s terminals):
          <pre className="mono">{SHELL_SERVER}</pre>
        </li>
        <li>
          On the device, run the agent with a <code>shell</code> mapping:
          <pre className="mono">{AGENT}</pre>
        </li>
      </ol>
      <p>It shows here, online, as soon as the agent connects.</p>
    </EmptyState>
  );
}
