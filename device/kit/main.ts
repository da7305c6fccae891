/**
 * `devicestreams-device` — the entry point of the device kit, the one bundled file a device runs
 * (scripts/build-device.js). It carries only what a device needs: the agent, the shell server, the
 * file server and the enrollment the install script calls. Each subcommand is loaded when asked
 * for, so the agent never loads node-pty.
 */
import { CliError, describeError } from '../../cli/args.js';
import { oneLine } from '../../shared/log-text.js';
import { watchOutputs } from '../../cli/outputs.js';
import { setVisibleCommandLine } from '../../cli/argv-secrets.js';

/** Set by the bundler from package.json; "dev" when run from the sources. */
declare const KIT_VERSION: string | undefined;
export const VERSION = typeof KIT_VERSION === 'string' ? KIT_VERSION : 'dev';

const HELP = `
devicestreams-device ${VERSION} — the DeviceStreams device kit

Usage: devicestreams-device <command> [options]

Commands:
  agent          keep the connection to the hub and bridge streams to local services
                 (agent --config /opt/devicestreams/etc/agent.json)
  shell-server   serve a terminal (a shell on a PTY) per connection, on a private Unix socket
  file-server    serve one directory's files, for devicestreams cp
  enroll         exchange an enrollment token for this device's identity (used by install.sh)
  version        print the kit's version

Run "devicestreams-device <command> --help" for a command's options.
`;

type Command = (argv: string[]) => Promise<void>;

const commands: Record<string, () => Promise<Command>> = {
  agent: async () => {
    const { run } = await import('../../cli/commands/agent.js');
    return (argv) => run(argv, `devicestreams-device/${VERSION}`);
  },
  'shell-server': async () => (await import('../../cli/commands/shell-server.js')).run,
  'file-server': async () => (await import('../../cli/commands/file-server.js')).run,
  enroll: async () => (await import('./enroll.js')).run,
  version: () =>
    Promise.resolve(() => {
      process.stdout.write(`${VERSION}\n`);
      return Promise.resolve();
    }),
};

export async function main(argv: string[]): Promise<void> {
  setVisibleCommandLine('devicestreams-device', argv);
  watchOutputs();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP.trimStart());
    process.exit(name === undefined ? 2 : 0);
  }
  if (name === '--version') return void process.stdout.write(`${VERSION}\n`);
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`devicestreams-device: unknown command "${name}" (see devicestreams-device --help)\n`);
    process.exit(2);
  }
  try {
    await (await load())(rest);
  } catch (err) {
    process.stderr.write(`devicestreams-device ${name}: ${oneLine(describeError(err))}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
}
