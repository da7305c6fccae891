/** `devicestreams` — dispatches to a subcommand. */
import { oneLine } from '../shared/log-text.js';
import { CliError, describeError } from './args.js';
import { watchOutputs } from './outputs.js';
import { setVisibleCommandLine } from './argv-secrets.js';
import { VERSION } from '../device/version.js';

const HELP = `
devicestreams — reach TCP services and terminals on devices behind firewalls

Usage: devicestreams <command> [options]

Commands:
  hub                  run the hub (registry, control channels, streaming endpoint, console)
  device               create, list, show and delete devices; print a device's connection string
  agent                run the device agent: map stream names to local TCP services
  proxy                listen locally; each connection opens a stream to a device service
  shell-server         serve a terminal (shell on a PTY) per connection, for the web console
  file-server          serve one directory's files on the device, for cp
  cp                   copy a file to or from a device's file server
  stream               pipe stdin/stdout through one stream (like netcat)
  streams              list and show the stream log
  policy               print a policy's connection string from the hub's data directory
  operator             manage console accounts from the hub's data directory
  store                move a single hub's store into a cluster store (PostgreSQL)

Run "devicestreams <command> --help" for a command's options; "devicestreams --version" prints
the release.
`;

type Command = (argv: string[]) => Promise<void>;

const commands: Record<string, () => Promise<Command>> = {
  hub: async () => (await import('./commands/hub.js')).run,
  device: async () => (await import('./commands/device.js')).run,
  agent: async () => (await import('./commands/agent.js')).run,
  proxy: async () => (await import('./commands/proxy.js')).run,
  'shell-server': async () => (await import('./commands/shell-server.js')).run,
  'file-server': async () => (await import('./commands/file-server.js')).run,
  cp: async () => (await import('./commands/cp.js')).run,
  stream: async () => (await import('./commands/stream.js')).run,
  streams: async () => (await import('./commands/streams.js')).run,
  policy: async () => (await import('./commands/policy.js')).run,
  operator: async () => (await import('./commands/operator.js')).run,
  store: async () => (await import('./commands/store.js')).run,
};

export async function main(argv: string[]): Promise<void> {
  setVisibleCommandLine('devicestreams', argv);
  watchOutputs();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP.trimStart());
    process.exit(name === undefined ? 2 : 0);
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`devicestreams: unknown command "${name}" (see devicestreams --help)\n`);
    process.exit(2);
  }
  try {
    await (await load())(rest);
  } catch (err) {
    // The message may quote a device or hub (a rejection reason): one line, no escape sequences.
    process.stderr.write(`devicestreams ${name}: ${oneLine(describeError(err))}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
}
