/** Device registry rows. */
import { randomBytes, randomUUID } from 'node:crypto';
import { Statements, type Db } from './database.js';

export type DeviceStatus = 'enabled' | 'disabled';

export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  etag: string;
  primaryKey: string;
  secondaryKey: string;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  createdTime: string;
  lastActivityTime: string | null;
  connectionStateUpdatedTime: string | null;
}

interface Row {
  device_id: string;
  generation_id: string;
  etag: string;
  primary_key: string;
  secondary_key: string;
  status: DeviceStatus;
  status_reason: string | null;
  status_updated_time: string;
  created_time: string;
  last_activity_time: string | null;
  connection_state_updated_time: string | null;
}

function fromRow(r: Row): DeviceRecord {
  return {
    deviceId: r.device_id,
    generationId: r.generation_id,
    etag: r.etag,
    primaryKey: r.primary_key,
    secondaryKey: r.secondary_key,
    status: r.status,
    statusReason: r.status_reason,
    statusUpdatedTime: r.status_updated_time,
    createdTime: r.created_time,
    lastActivityTime: r.last_activity_time,
    connectionStateUpdatedTime: r.connection_state_updated_time,
  };
}

/** A fresh 256-bit base64 key. */
export function newKey(): string {
  return randomBytes(32).toString('base64');
}

function newEtag(): string {
  return randomBytes(9).toString('base64');
}

export interface DeviceWrite {
  status: DeviceStatus;
  statusReason: string | null;
  primaryKey: string;
  secondaryKey: string;
}

/** CRUD on the devices table; every method is one statement or one transaction. */
export class DeviceRepository {
  readonly #sql: Statements;
  readonly #get;
  readonly #list;
  readonly #count;

  constructor(db: Db) {
    this.#sql = new Statements(db);
    this.#get = db.prepare<[string], Row>('SELECT * FROM devices WHERE device_id = ?');
    this.#list = db.prepare<[number], Row>('SELECT * FROM devices ORDER BY device_id LIMIT ?');
    this.#count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM devices');
  }

  get(deviceId: string): DeviceRecord | undefined {
    const row = this.#get.get(deviceId);
    return row === undefined ? undefined : fromRow(row);
  }

  list(limit: number): DeviceRecord[] {
    return this.#list.all(limit).map(fromRow);
  }

  count(): number {
    return this.#count.get()?.n ?? 0;
  }

  /** Inserts a device; returns undefined when the id is taken. */
  create(deviceId: string, write: DeviceWrite): DeviceRecord | undefined {
    const now = new Date().toISOString();
    const info = this.#sql
      .get(
        `INSERT OR IGNORE INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_reason,
           status_updated_time, created_time) VALUES (?,?,?,?,?,?,?,?,?)`,
      )
      .run(deviceId, randomUUID(), newEtag(), write.primaryKey, write.secondaryKey, write.status, write.statusReason, now, now);
    return info.changes === 0 ? undefined : this.get(deviceId);
  }

  /** Replaces the writable fields; a new etag each time. */
  update(deviceId: string, write: DeviceWrite): DeviceRecord | undefined {
    const before = this.get(deviceId);
    if (before === undefined) return undefined;
    const statusTime = before.status === write.status ? before.statusUpdatedTime : new Date().toISOString();
    this.#sql
      .get(
        `UPDATE devices SET etag = ?, primary_key = ?, secondary_key = ?, status = ?, status_reason = ?, status_updated_time = ?
         WHERE device_id = ?`,
      )
      .run(newEtag(), write.primaryKey, write.secondaryKey, write.status, write.statusReason, statusTime, deviceId);
    return this.get(deviceId);
  }

  delete(deviceId: string): boolean {
    return this.#sql.get('DELETE FROM devices WHERE device_id = ?').run(deviceId).changes > 0;
  }

  /** Records activity (connects, streams); cheap enough to call on each. */
  touch(deviceId: string, connectionChanged: boolean): void {
    const now = new Date().toISOString();
    if (connectionChanged) {
      this.#sql.get('UPDATE devices SET last_activity_time = ?, connection_state_updated_time = ? WHERE device_id = ?').run(now, now, deviceId);
    } else {
      this.#sql.get('UPDATE devices SET last_activity_time = ? WHERE device_id = ?').run(now, deviceId);
    }
  }
}
