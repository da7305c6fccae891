/**
 * Opens the store a deployment names: the embedded SQLite store in a data directory, or a
 * PostgreSQL database (`postgres://…`) shared by the nodes of a cluster. The PostgreSQL engine is
 * loaded only when asked for.
 */
import type { Store } from './store.js';
import { openSqliteStore } from './sqlite/index.js';

export interface StoreSpec {
  /** The data directory (the embedded store, and a single hub's TLS files and secrets). */
  dataDir: string;
  /** `postgres://…` for a cluster store; the embedded store when absent. */
  url?: string | undefined;
  log?: (line: string) => void;
}

export async function openStore(spec: StoreSpec): Promise<Store> {
  if (spec.url === undefined) return openSqliteStore(spec.dataDir);
  const { openPostgresStore } = await import('./postgres/index.js');
  return openPostgresStore(spec.url, spec.log ?? (() => undefined));
}
