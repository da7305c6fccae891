/** `devicestreams policy …` — read the hub's shared access policies straight from its data directory. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildConnectionString } from '../../shared/connection-string.js';
import { openStore } from '../../server/store/store.js';
import { DEFAULT_POLICIES } from '../../server/store/policies.js';
import { CliError, parse } from '../args.js';

const HELP = `
Usage: devicestreams policy <list | connection-string NAME> --data-dir DIR --host-name HOST[:PORT]

Reads the hub's shared access policies from its data directory (run it where the hub runs; whoever
can read the data directory holds the keys anyway).

  list                    the policies and their rights
  connection-string NAME  the service connection string of a policy (contains its key)

Options:
  --data-dir DIR          the hub's data directory (default ./data)
  --host-name HOST[:PORT] HostName to put in the connection string (default localhost:8443)
  -h, --help              this help

Example:
  export IOTHUB_CONNECTION_STRING="$(devicestreams policy connection-string iothubowner)"
`;

export function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { 'data-dir': { type: 'string' }, 'host-name': { type: 'string' } }, HELP);
  const dataDir = resolve(values['data-dir'] ?? 'data');
  if (!existsSync(join(dataDir, 'hub.db'))) throw new CliError(`no hub data in ${dataDir}; start the hub first or pass --data-dir`);
  const store = openStore(dataDir);
  try {
    const [action, name] = positionals;
    if (action === 'list') {
      for (const p of DEFAULT_POLICIES) {
        const rec = store.policies.get(p.name);
        if (rec !== undefined) process.stdout.write(`${rec.name.padEnd(20)} ${[...rec.rights].join(', ')}\n`);
      }
    } else if (action === 'connection-string') {
      if (name === undefined) throw new CliError('name a policy, for example iothubowner', 2);
      const rec = store.policies.get(name);
      if (rec === undefined) throw new CliError(`no policy "${name}"; see devicestreams policy list`);
      const hostName = values['host-name'] ?? 'localhost:8443';
      process.stdout.write(`${buildConnectionString({ kind: 'service', hostName, sharedAccessKeyName: rec.name, sharedAccessKey: rec.primaryKey })}\n`);
    } else {
      throw new CliError('use list or connection-string NAME (see --help)', 2);
    }
  } finally {
    store.close();
  }
  return Promise.resolve();
}
