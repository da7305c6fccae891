/** Shared access policies in SQLite: named keys with rights, as in Azure IoT Hub. */
import { DEFAULT_POLICIES, newKey, parseRights } from '../keys.js';
import type { PolicyRecord } from '../records.js';
import type { PolicyRepository } from '../store.js';
import { Statements, type Db } from './database.js';

interface Row {
  name: string;
  primary_key: string;
  secondary_key: string;
  rights: string;
}

const fromRow = (r: Row): PolicyRecord => ({ name: r.name, primaryKey: r.primary_key, secondaryKey: r.secondary_key, rights: parseRights(r.rights) });

export class SqlitePolicies implements PolicyRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  async ensureDefaults(): Promise<string[]> {
    const created: string[] = [];
    const insert = this.#sql.get('INSERT OR IGNORE INTO policies (name, primary_key, secondary_key, rights) VALUES (?,?,?,?)');
    this.#db.transaction(() => {
      for (const p of DEFAULT_POLICIES) {
        if (insert.run(p.name, newKey(), newKey(), p.rights.join(',')).changes > 0) created.push(p.name);
      }
    })();
    return created;
  }

  async get(name: string): Promise<PolicyRecord | undefined> {
    const row = this.#sql.get<[string], Row>('SELECT * FROM policies WHERE name = ?').get(name);
    return row === undefined ? undefined : fromRow(row);
  }

  async list(): Promise<PolicyRecord[]> {
    return this.#sql.get<[], Row>('SELECT * FROM policies ORDER BY name').all().map(fromRow);
  }
}
