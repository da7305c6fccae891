/** The device registry in SQLite. */
import { randomUUID } from 'node:crypto';
import type { DeviceRepository, HeldConnection } from '../store.js';
import { newEtag } from '../keys.js';
import { parseServices, parseTags } from '../json-columns.js';
import type { DeviceCounts, DeviceQuery, DeviceRecord, DeviceStatus, DeviceWrite } from '../records.js';
import { Statements, type Db } from './database.js';

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
  connected_node: string | null;
  tags: string;
  agent: string | null;
  services: string | null;
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
    connectedNode: r.connected_node,
    tags: parseTags(r.tags),
    agent: r.agent,
    services: parseServices(r.services),
  };
}

/** `LIKE` pattern for a substring, with the pattern characters in it taken literally. */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class SqliteDevices implements DeviceRepository {
  readonly #db: Db;
  readonly #sql: Statements;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = new Statements(db);
  }

  #get(deviceId: string): DeviceRecord | undefined {
    const row = this.#sql.get<[string], Row>('SELECT * FROM devices WHERE device_id = ?').get(deviceId);
    return row === undefined ? undefined : fromRow(row);
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#get(deviceId);
  }

  async page(q: DeviceQuery): Promise<DeviceRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.search !== undefined && q.search !== '') {
      where.push("device_id LIKE ? ESCAPE '\\'");
      args.push(likeSubstring(q.search));
    }
    if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
    if (q.online === true) where.push('connected_node IS NOT NULL');
    if (q.online === false) where.push('connected_node IS NULL');
    if (q.after !== undefined) { where.push('device_id > ?'); args.push(q.after); }
    const sql = `SELECT * FROM devices ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY device_id LIMIT ?`;
    return this.#sql.get<(string | number)[], Row>(sql).all(...args, q.limit).map(fromRow);
  }

  async counts(): Promise<DeviceCounts> {
    const r = this.#sql
      .get<[], { total: number; enabled: number | null; online: number | null }>(
        "SELECT COUNT(*) AS total, SUM(status = 'enabled') AS enabled, SUM(connected_node IS NOT NULL) AS online FROM devices",
      )
      .get();
    const total = r?.total ?? 0;
    const enabled = r?.enabled ?? 0;
    return { total, enabled, disabled: total - enabled, online: r?.online ?? 0 };
  }

  async create(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined> {
    const now = new Date().toISOString();
    const info = this.#sql
      .get(
        `INSERT OR IGNORE INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_reason,
           status_updated_time, created_time, tags) VALUES (?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(deviceId, randomUUID(), newEtag(), write.primaryKey, write.secondaryKey, write.status, write.statusReason, now, now, JSON.stringify(write.tags ?? {}));
    return info.changes === 0 ? undefined : this.#get(deviceId);
  }

  async update(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined> {
    const now = new Date().toISOString();
    const info = this.#sql
      .get(
        `UPDATE devices SET etag = ?, primary_key = ?, secondary_key = ?, status_reason = ?,
           status_updated_time = CASE WHEN status = ? THEN status_updated_time ELSE ? END, status = ?, tags = COALESCE(?, tags)
         WHERE device_id = ?`,
      )
      .run(newEtag(), write.primaryKey, write.secondaryKey, write.statusReason, write.status, now, write.status, write.tags === undefined ? null : JSON.stringify(write.tags), deviceId);
    return info.changes === 0 ? undefined : this.#get(deviceId);
  }

  async delete(deviceId: string): Promise<boolean> {
    return this.#sql.get('DELETE FROM devices WHERE device_id = ?').run(deviceId).changes > 0;
  }

  async touch(deviceId: string, at: number): Promise<void> {
    this.#sql.get('UPDATE devices SET last_activity_time = ? WHERE device_id = ?').run(new Date(at).toISOString(), deviceId);
  }

  async connected(deviceId: string, node: string, at: number): Promise<boolean> {
    const iso = new Date(at).toISOString();
    return this.#sql
      .get<[{ node: string; at: string; id: string }]>(`UPDATE devices SET connected_node = @node, last_activity_time = @at, connection_state_updated_time = @at, connected_since = @at
        WHERE device_id = @id AND (connected_node IS NULL OR connected_node = @node OR connected_since IS NULL OR connected_since <= @at)`)
      .run({ node, at: iso, id: deviceId }).changes > 0;
  }

  async disconnected(deviceId: string, node: string, at: number): Promise<void> {
    const iso = new Date(at).toISOString();
    this.#sql
      .get('UPDATE devices SET connected_node = NULL, last_activity_time = ?, connection_state_updated_time = ? WHERE device_id = ? AND connected_node = ?')
      .run(iso, iso, deviceId, node);
  }

  async releaseNode(node: string, at: number): Promise<number> {
    const iso = new Date(at).toISOString();
    return this.#sql.get('UPDATE devices SET connected_node = NULL, connection_state_updated_time = ? WHERE connected_node = ?').run(iso, node).changes;
  }

  async syncNode(node: string, held: readonly HeldConnection[], at: number): Promise<number> {
    const iso = new Date(at).toISOString();
    const ids = new Set(held.map((h) => h.deviceId));
    let n = 0;
    // Only records whose connection state is older than `at` (ISO text of one shape sorts by time),
    // and none another node holds for a newer connection of the device.
    const older = '(connection_state_updated_time IS NULL OR connection_state_updated_time < @at)';
    const claim = this.#sql.get<[{ node: string; at: string; id: string; since: string }]>(
      `UPDATE devices SET connected_node = @node, connected_since = @since,
          connection_state_updated_time = CASE WHEN connection_state_updated_time IS NULL OR connection_state_updated_time <= @since THEN @since ELSE @at END
        WHERE device_id = @id AND connected_node IS NOT @node AND ${older} AND (connected_node IS NULL OR connected_since IS NULL OR connected_since <= @since)`,
    );
    const release = this.#sql.get<[{ node: string; at: string; id: string }]>(`UPDATE devices SET connected_node = NULL, connection_state_updated_time = @at WHERE device_id = @id AND connected_node = @node AND ${older}`);
    this.#db.transaction(() => {
      for (const h of held) n += claim.run({ node, at: iso, id: h.deviceId, since: new Date(h.since).toISOString() }).changes;
      for (const r of this.#sql.get<[string], { device_id: string }>('SELECT device_id FROM devices WHERE connected_node = ?').all(node)) {
        if (!ids.has(r.device_id)) n += release.run({ node, at: iso, id: r.device_id }).changes;
      }
    })();
    return n;
  }

  async setAgent(deviceId: string, agent: string, services: readonly string[] | null): Promise<boolean> {
    const list = services === null ? null : JSON.stringify(services);
    return this.#sql.get('UPDATE devices SET agent = ?, services = ? WHERE device_id = ? AND (agent IS NOT ? OR services IS NOT ?)').run(agent, list, deviceId, agent, list).changes > 0;
  }

  async swapInstance(deviceId: string, instance: string): Promise<string | null | undefined> {
    return this.#db.transaction(() => {
      const row = this.#sql.get<[string], { agent_instance: string | null }>('SELECT agent_instance FROM devices WHERE device_id = ?').get(deviceId);
      if (row === undefined || row.agent_instance === instance) return undefined;
      this.#sql.get('UPDATE devices SET agent_instance = ? WHERE device_id = ?').run(instance, deviceId);
      return row.agent_instance;
    })();
  }

  async holdingNodes(): Promise<string[]> {
    return this.#sql.get<[], { n: string }>('SELECT DISTINCT connected_node AS n FROM devices WHERE connected_node IS NOT NULL').all().map((r) => r.n);
  }
}
