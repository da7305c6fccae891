/**
 * The store behind one interface. SQLite is the embedded default; another backend (PostgreSQL for
 * scale-out) implements the same repositories.
 */
import { openDatabase, type Db } from './database.js';
import { DeviceRepository } from './devices.js';
import { PolicyRepository } from './policies.js';
import { StreamRepository } from './streams.js';

export interface Store {
  readonly devices: DeviceRepository;
  readonly policies: PolicyRepository;
  readonly streams: StreamRepository;
  /** The raw database, for features that add their own tables (operators, recordings). */
  readonly db: Db;
  close(): void;
}

/** Opens the SQLite store in `dataDir`. */
export function openStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    db,
    devices: new DeviceRepository(db),
    policies: new PolicyRepository(db),
    streams: new StreamRepository(db),
    close: () => db.close(),
  };
}
