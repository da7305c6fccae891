/** `devicestreams policy …` — read the hub's shared access policies straight from its store. */
import { buildConnectionString } from '../../shared/connection-string.js';
import { CliError, parse } from '../args.js';
import { STORE_FLAGS, STORE_HELP, openCliStore } from '../store-flags.js';

const HELP = `
Usage: devicestreams policy <list | connection-string NAME> [--data-dir DIR | --store URL] --host-name HOST[:PORT]

Reads the hub's shared access policies from its store (run it where the hub runs; whoever can read
the data directory or the cluster's database holds the keys anyway).

  list                    the policies and their rights
  connection-string NAME  the service connection string of a policy (contains its key)

Options:
${STORE_HELP}
  --host-name HOST[:PORT] HostName to put in the connection string (default localhost:8443)
  -h, --help              this help

Example:
  export IOTHUB_CONNECTION_STRING="$(devicestreams policy connection-string iothubowner)"
`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { ...STORE_FLAGS, 'host-name': { type: 'string' } }, HELP);
  const store = await openCliStore(values);
  try {
    const [action, name] = positionals;
    if (action === 'list') {
      for (const rec of await store.policies.list()) process.stdout.write(`${rec.name.padEnd(20)} ${[...rec.rights].join(', ')}\n`);
    } else if (action === 'connection-string') {
      if (name === undefined) throw new CliError('name a policy, for example iothubowner', 2);
      const rec = await store.policies.get(name);
      if (rec === undefined) throw new CliError(`no policy "${name}"; see devicestreams policy list`);
      const hostName = values['host-name'] ?? 'localhost:8443';
      process.stdout.write(`${buildConnectionString({ kind: 'service', hostName, sharedAccessKeyName: rec.name, sharedAccessKey: rec.primaryKey })}\n`);
    } else {
      throw new CliError('use list or connection-string NAME (see --help)', 2);
    }
  } finally {
    await store.close();
  }
}
