/** Shared access policies: named keys with rights, as in Azure IoT Hub. */
import { Statements, type Db } from './database.js';
import { newKey } from './devices.js';

/**
 * Azure IoT Hub's rights, plus RegistryView: read the registry (devices, state, the stream log)
 * without device keys — what a service that only shows devices needs, such as the console.
 */
export type Right = 'RegistryRead' | 'RegistryView' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface PolicyRecord {
  name: string;
  primaryKey: string;
  secondaryKey: string;
  rights: ReadonlySet<Right>;
}

/** The policies a new hub starts with. */
export const DEFAULT_POLICIES: ReadonlyArray<{ name: string; rights: Right[] }> = [
  { name: 'iothubowner', rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] },
  { name: 'service', rights: ['ServiceConnect'] },
  { name: 'device', rights: ['DeviceConnect'] },
  { name: 'registryRead', rights: ['RegistryRead'] },
  { name: 'registryReadWrite', rights: ['RegistryRead', 'RegistryWrite'] },
  // What the operator console's BFF needs: see devices (never their keys) and the log, open streams.
  { name: 'console', rights: ['RegistryView', 'ServiceConnect'] },
];

interface Row {
  name: string;
  primary_key: string;
  secondary_key: string;
  rights: string;
}

export class PolicyRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  /** Creates the default policies that are missing; returns the names created. */
  ensureDefaults(): string[] {
    const created: string[] = [];
    const insert = this.#sql.get('INSERT OR IGNORE INTO policies (name, primary_key, secondary_key, rights) VALUES (?,?,?,?)');
    this.#db.transaction(() => {
      for (const p of DEFAULT_POLICIES) {
        if (insert.run(p.name, newKey(), newKey(), p.rights.join(',')).changes > 0) created.push(p.name);
      }
    })();
    return created;
  }

  get(name: string): PolicyRecord | undefined {
    const row = this.#sql.get<[string], Row>('SELECT * FROM policies WHERE name = ?').get(name);
    if (row === undefined) return undefined;
    return {
      name: row.name,
      primaryKey: row.primary_key,
      secondaryKey: row.secondary_key,
      rights: new Set(row.rights.split(',').filter(Boolean) as Right[]),
    };
  }
}
