/** The flags of commands that read the hub's store directly: `--data-dir`, or `--store` for a cluster. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openStore } from '../server/store/open.js';
import type { Store } from '../server/store/store.js';
import { CliError } from './args.js';

export const STORE_FLAGS = {
  'data-dir': { type: 'string' },
  store: { type: 'string' },
} as const;

export const STORE_HELP = `  --data-dir DIR       the hub's data directory (default ./data)
  --store URL          a cluster's store instead: postgres://USER:PASSWORD@HOST:PORT/DB
                       (or DEVICESTREAMS_STORE)`;

/** The store URL from --store or DEVICESTREAMS_STORE, checked for its scheme. */
export function storeUrl(flag: string | undefined): string | undefined {
  const url = flag ?? (process.env.DEVICESTREAMS_STORE === '' ? undefined : process.env.DEVICESTREAMS_STORE);
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) throw new CliError('--store must be a postgres:// URL (the embedded store is chosen with --data-dir)', 2);
  return url;
}

/** Opens the store the flags name; the embedded one must exist already (a hub made it). */
export async function openCliStore(values: { 'data-dir'?: string | undefined; store?: string | undefined }): Promise<Store> {
  const url = storeUrl(values.store);
  const dataDir = resolve(values['data-dir'] ?? 'data');
  if (url === undefined && !existsSync(join(dataDir, 'hub.db'))) throw new CliError(`no hub data in ${dataDir}; start the hub first or pass --data-dir (or --store for a cluster)`);
  try {
    return await openStore({ dataDir, url });
  } catch (err) {
    throw new CliError(`cannot open the store: ${err instanceof Error ? err.message : String(err)}`);
  }
}
