/** The device registry and the shared access policies in PostgreSQL. */
import { randomUUID } from 'node:crypto';
import { DEFAULT_POLICIES, newEtag, newKey, parseRights } from '../keys.js';
import type { DeviceCounts, DeviceQuery, DeviceRecord, DeviceStatus, DeviceWrite, PolicyRecord } from '../records.js';
import type { DeviceRepository, PolicyRepository } from '../store.js';
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
  };
}

/** `LIKE` pattern for a substring, with the pattern characters in it taken literally. */
/** Ids read in order before a search turns to the trigram index (see page()). */
const SEARCH_WINDOW = 2000;

function likeSubstring(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

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
    const filters: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.status !== undefined) filters.push(`status = ${arg(q.status)}`);
    if (q.online === true) filters.push('connected_node IS NOT NULL');
    if (q.online === false) filters.push('connected_node IS NULL');
    const and = (extra: string[]): string => {
      const all = [...filters, ...extra];
      return all.length > 0 ? `WHERE ${all.join(' AND ')}` : '';
    };
    const after = (id: string | undefined): string[] => (id === undefined ? [] : [`device_id COLLATE "C" > ${arg(id)}`]);
    if (q.search === undefined || q.search === '') {
      const sql = `SELECT * FROM devices ${and(after(q.after))} ORDER BY device_id COLLATE "C" LIMIT ${arg(q.limit)}`;
      return (await this.#db.rows<Row>(sql, args)).map(fromRow);
    }
    // A search, in two steps. The planner walks the id index and filters when it expects a term to
    // be common — fast when hits are spread out, slow when they all sort late ("valve-…" among
    // 100,000: 90,000 rows read for 50). So: first the next SEARCH_WINDOW ids in order (a common
    // term fills the page there), then, if the page is not full, the trigram index on lower(id)
    // for the rest, its hits sorted (what a rare or late term needs).
    const like = arg(likeSubstring(q.search));
    const limit = arg(q.limit);
    const windowSql = `WITH w AS (SELECT * FROM devices ${and(after(q.after))} ORDER BY device_id COLLATE "C" LIMIT ${SEARCH_WINDOW})
      SELECT w.*, (SELECT max(device_id COLLATE "C") FROM w) AS window_edge, (SELECT count(*) FROM w)::int AS window_rows
      FROM w WHERE lower(device_id) LIKE ${like} ORDER BY device_id COLLATE "C" LIMIT ${limit}`;
    const first = await this.#db.rows<Row & { window_edge: string | null; window_rows: number }>(windowSql, args);
    const found = first.map(fromRow);
    const edge = first[0]?.window_edge ?? null;
    const windowRows = first[0]?.window_rows ?? 0;
    // A full page, or a window that reached the end of the registry: done. (With no hit in the
    // window, its edge is unknown here; the second step then starts after the cursor.)
    if (found.length >= q.limit || (first.length > 0 && windowRows < SEARCH_WINDOW)) return found;
    const restArgs: unknown[] = [];
    const restArg = (v: unknown): string => {
      restArgs.push(v);
      return `$${restArgs.length}`;
    };
    const rest: string[] = [`lower(device_id) LIKE ${restArg(likeSubstring(q.search))}`];
    if (q.status !== undefined) rest.push(`status = ${restArg(q.status)}`);
    if (q.online === true) rest.push('connected_node IS NOT NULL');
    if (q.online === false) rest.push('connected_node IS NULL');
    const from = edge ?? q.after;
    if (from !== undefined) rest.push(`device_id COLLATE "C" > ${restArg(from)}`);
    const restSql = `WITH hits AS MATERIALIZED (SELECT * FROM devices WHERE ${rest.join(' AND ')})
      SELECT * FROM hits ORDER BY device_id COLLATE "C" LIMIT ${restArg(q.limit - found.length)}`;
    return [...found, ...(await this.#db.rows<Row>(restSql, restArgs)).map(fromRow)];
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
      `INSERT INTO devices (device_id, generation_id, etag, primary_key, secondary_key, status, status_reason, status_updated_time, created_time)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (device_id) DO NOTHING RETURNING *`,
      [deviceId, randomUUID(), newEtag(), write.primaryKey, write.secondaryKey, write.status, write.statusReason, now, now],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async update(deviceId: string, write: DeviceWrite): Promise<DeviceRecord | undefined> {
    const [row] = await this.#db.rows<Row>(
      `UPDATE devices SET etag = $1, primary_key = $2, secondary_key = $3, status_reason = $4,
         status_updated_time = CASE WHEN status = $5 THEN status_updated_time ELSE $6 END, status = $5
       WHERE device_id = $7 RETURNING *`,
      [newEtag(), write.primaryKey, write.secondaryKey, write.statusReason, write.status, new Date().toISOString(), deviceId],
    );
    return row === undefined ? undefined : fromRow(row);
  }

  async delete(deviceId: string): Promise<boolean> {
    return ((await this.#db.query('DELETE FROM devices WHERE device_id = $1', [deviceId])).rowCount ?? 0) > 0;
  }

  async touch(deviceId: string, at: number): Promise<void> {
    await this.#db.query('UPDATE devices SET last_activity_time = $1 WHERE device_id = $2', [new Date(at).toISOString(), deviceId]);
  }

  async connected(deviceId: string, node: string, at: number): Promise<void> {
    const iso = new Date(at).toISOString();
    await this.#db.query('UPDATE devices SET connected_node = $1, last_activity_time = $2, connection_state_updated_time = $2 WHERE device_id = $3', [node, iso, deviceId]);
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

  async syncNode(node: string, deviceIds: readonly string[], at: number): Promise<number> {
    const iso = new Date(at).toISOString();
    const claimed = await this.#db.query(
      'UPDATE devices SET connected_node = $1, connection_state_updated_time = $2 WHERE device_id = ANY($3) AND connected_node IS DISTINCT FROM $1',
      [node, iso, deviceIds],
    );
    const released = await this.#db.query(
      'UPDATE devices SET connected_node = NULL, connection_state_updated_time = $1 WHERE connected_node = $2 AND NOT (device_id = ANY($3))',
      [iso, node, deviceIds],
    );
    return (claimed.rowCount ?? 0) + (released.rowCount ?? 0);
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
