/** The device registry and the shared access policies in PostgreSQL. */
import { randomUUID } from 'node:crypto';
import { DEFAULT_POLICIES, newEtag, newKey, parseRights } from '../keys.js';
import { parseServices, parseTags } from '../json-columns.js';
import type { DeviceCounts, DeviceQuery, DeviceRecord, DeviceStatus, DeviceWrite, PolicyRecord } from '../records.js';
import type { DeviceRepository, HeldConnection, PolicyRepository } from '../store.js';
import type { Database } from './pool.js';

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
function likeSubstring(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The record's connection state was last set before $2 (what `syncNode` may correct). */
const OLDER_THAN_2 = '(connection_state_updated_time IS NULL OR connection_state_updated_time < $2)';

export class PgDevices implements DeviceRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    const [row] = await this.#db.rows<Row>('SELECT * FROM devices WHERE device_id = $1', [deviceId]);
    return row === undefined ? undefined : fromRow(row);
  }

  async page(q: DeviceQuery): Promise<DeviceRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.search !== undefined && q.search !== '') {
      // Through device_ids (migration 12): the ids are walked, or found by its trigram index (on
      // lower(device_id)), without reading a device row that does not match.
      const ids = [`lower(i.device_id) LIKE ${arg(likeSubstring(q.search))}`];
      if (q.after !== undefined) ids.push(`i.device_id > ${arg(q.after)}`);
      if (q.status === undefined && q.online === undefined) {
        const sql = `SELECT d.* FROM (SELECT device_id FROM device_ids i WHERE ${ids.join(' AND ')} ORDER BY device_id LIMIT ${arg(q.limit)}) i
          JOIN devices d ON (d.device_id COLLATE "C") = i.device_id ORDER BY i.device_id`;
        return (await this.#db.rows<Row>(sql, args)).map(fromRow);
      }
      // With filters on the row too: each matching id's row is read by its id, in id order, until
      // a page passes them. OFFSET 0 keeps the filters outside that lookup, so it stays a probe by
      // id whatever the statistics say (a plain join was planned as a merge join that read every
      // row, 160 ms on 100,000; with the filter inside, stale statistics made it scan the online
      // index once per id, 1.4 s).
      const rows: string[] = [];
      if (q.status !== undefined) rows.push(`d.status = ${arg(q.status)}`);
      if (q.online === true) rows.push('d.connected_node IS NOT NULL');
      if (q.online === false) rows.push('d.connected_node IS NULL');
      const sql = `SELECT d.* FROM device_ids i CROSS JOIN LATERAL (SELECT * FROM devices d WHERE (d.device_id COLLATE "C") = i.device_id OFFSET 0) d
        WHERE ${[...ids, ...rows].join(' AND ')} ORDER BY i.device_id LIMIT ${arg(q.limit)}`;
      return (await this.#db.rows<Row>(sql, args)).map(fromRow);
    }
    if (q.status !== undefined) where.push(`status = ${arg(q.status)}`);
    if (q.online === true) where.push('connected_node IS NOT NULL');
    if (q.online === false) where.push('connected_node IS NULL');
    if (q.after !== undefined) where.push(`device_id COLLATE "C" > ${arg(q.after)}`);
    const sql = `SELECT * FROM devices ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY device_id COLLATE "C" LIMIT ${arg(q.limit)}`;
    return (await this.#db.rows<Row>(sql, args)).map(fromRow);
  }

  async counts(): Promise<DeviceCounts> {
    const [r] = await this.#db.rows<{ total: number; enabled: number; online: number }>(
      "SELECT COUNT(*)::int AS total, COUNT(*) FILTER (WHERE status = 'enabled')::int AS enabled, COUNT(*) FILTER (WHERE connected_node IS NOT NULL)::int AS online FROM devices",
    );
    const total = r?.total ?? 0;
    const enabled = r?.enabled ?? 0;
    return { total, enabled, disabled: total - enabled, online: r?.online ?? 0 };
  }

  async create(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined> {
    const now = new Date().toISOString();
    const [row] = await this.#db.rows<Row>(
      `INSERT INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_reason, status_updated_time, created_time, tags)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (device_id) DO NOTHING RETURNING *`,
      [deviceId, randomUUID(), newEtag(), write.primaryKey, write.secondaryKey, write.status, write.statusReason, now, now, JSON.stringify(write.tags ?? {})],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async update(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined> {
    const [row] = await this.#db.rows<Row>(
      `UPDATE devices SET etag = $1, primary_key = $2, secondary_key = $3, status_reason = $4,
         status_updated_time = CASE WHEN status = $5 THEN status_updated_time ELSE $6 END, status = $5, tags = COALESCE($8, tags)
       WHERE device_id = $7 RETURNING *`,
      [newEtag(), write.primaryKey, write.secondaryKey, write.statusReason, write.status, new Date().toISOString(), deviceId, write.tags === undefined ? null : JSON.stringify(write.tags)],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async delete(deviceId: string): Promise<boolean> {
    return ((await this.#db.query('DELETE FROM devices WHERE device_id = $1', [deviceId])).rowCount ?? 0) > 0;
  }

  async touch(deviceId: string, at: number): Promise<void> {
    await this.#db.query('UPDATE devices SET last_activity_time = $1 WHERE device_id = $2', [new Date(at).toISOString(), deviceId]);
  }

  async connected(deviceId: string, node: string, at: number): Promise<boolean> {
    const iso = new Date(at).toISOString();
    const r = await this.#db.query(
      `UPDATE devices SET connected_node = $1, last_activity_time = $2, connection_state_updated_time = $2, connected_since = $2
        WHERE device_id = $3 AND (connected_node IS NULL OR connected_node = $1 OR connected_since IS NULL OR connected_since <= $2)`,
      [node, iso, deviceId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async disconnected(deviceId: string, node: string, at: number): Promise<void> {
    const iso = new Date(at).toISOString();
    await this.#db.query(
      'UPDATE devices SET connected_node = NULL, last_activity_time = $1, connection_state_updated_time = $1 WHERE device_id = $2 AND connected_node = $3',
      [iso, deviceId, node],
    );
  }

  async releaseNode(node: string, at: number): Promise<number> {
    const r = await this.#db.query('UPDATE devices SET connected_node = NULL, connection_state_updated_time = $1 WHERE connected_node = $2', [new Date(at).toISOString(), node]);
    return r.rowCount ?? 0;
  }

  async syncNode(node: string, held: readonly HeldConnection[], at: number): Promise<number> {
    const iso = new Date(at).toISOString();
    const ids = held.map((h) => h.deviceId);
    const since = held.map((h) => new Date(h.since).toISOString());
    // ISO timestamps of one shape compare as text in time order; NULL is a device never connected.
    const claimed = await this.#db.query(
      `UPDATE devices SET connected_node = $1, connected_since = h.since,
          connection_state_updated_time = CASE WHEN connection_state_updated_time IS NULL OR connection_state_updated_time <= h.since THEN h.since ELSE $2 END
        FROM unnest($3::text[], $4::text[]) AS h(id, since)
        WHERE device_id = h.id AND connected_node IS DISTINCT FROM $1 AND ${OLDER_THAN_2}
          AND (connected_node IS NULL OR connected_since IS NULL OR connected_since <= h.since)`,
      [node, iso, ids, since],
    );
    const released = await this.#db.query(
      `UPDATE devices SET connected_node = NULL, connection_state_updated_time = $2
        WHERE connected_node = $1 AND NOT (device_id = ANY($3)) AND ${OLDER_THAN_2}`,
      [node, iso, ids],
    );
    return (claimed.rowCount ?? 0) + (released.rowCount ?? 0);
  }

  async setAgent(deviceId: string, agent: string, services: readonly string[] | null): Promise<boolean> {
    const list = services === null ? null : JSON.stringify(services);
    const r = await this.#db.query('UPDATE devices SET agent = $1, services = $2 WHERE device_id = $3 AND (agent IS DISTINCT FROM $1 OR services IS DISTINCT FROM $2)', [agent, list, deviceId]);
    return (r.rowCount ?? 0) > 0;
  }

  async swapInstance(deviceId: string, instance: string): Promise<string | null | undefined> {
    // One statement: the row is locked while the old value is read and the new one written; the
    // same instance again (each reconnection and token renewal) writes nothing.
    const [r] = await this.#db.rows<{ previous: string | null }>(
      'UPDATE devices d SET agent_instance = $2 FROM (SELECT device_id, agent_instance FROM devices WHERE device_id = $1 FOR UPDATE) old WHERE d.device_id = old.device_id AND old.agent_instance IS DISTINCT FROM $2 RETURNING old.agent_instance AS previous',
      [deviceId, instance],
    );
    return r === undefined ? undefined : r.previous;
  }

  async holdingNodes(): Promise<string[]> {
    return (await this.#db.rows<{ n: string }>('SELECT DISTINCT connected_node AS n FROM devices WHERE connected_node IS NOT NULL')).map((r) => r.n);
  }
}

interface PolicyRow {
  name: string;
  primary_key: string;
  secondary_key: string;
  rights: string;
}

const policyOf = (r: PolicyRow): PolicyRecord => ({ name: r.name, primaryKey: r.primary_key, secondaryKey: r.secondary_key, rights: parseRights(r.rights) });

export class PgPolicies implements PolicyRepository {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async ensureDefaults(): Promise<string[]> {
    const created: string[] = [];
    for (const p of DEFAULT_POLICIES) {
      const r = await this.#db.query('INSERT INTO policies (name, primary_key, secondary_key, rights) VALUES ($1,$2,$3,$4) ON CONFLICT (name) DO NOTHING', [
        p.name, newKey(), newKey(), p.rights.join(','),
      ]);
      if ((r.rowCount ?? 0) > 0) created.push(p.name);
    }
    return created;
  }

  async get(name: string): Promise<PolicyRecord | undefined> {
    const [row] = await this.#db.rows<PolicyRow>('SELECT * FROM policies WHERE name = $1', [name]);
    return row === undefined ? undefined : policyOf(row);
  }

  async list(): Promise<PolicyRecord[]> {
    return (await this.#db.rows<PolicyRow>('SELECT * FROM policies ORDER BY name')).map(policyOf);
  }
}
