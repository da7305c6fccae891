/**
 * Enrollment tokens in both store engines: one use each, even when two uses race (two stores on
 * one database stand for two cluster nodes), none after expiry, and a use undone when the device
 * could not be registered. Devices keep tags and their agent's name.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newKey } from '../server/store/keys.js';
import { migrateStore } from '../server/store/migrate.js';
import { openStore } from '../server/store/open.js';
import type { NewEnrollmentToken, Store } from '../server/store/store.js';
import { startPostgres } from './fixtures/postgres.js';
import { stopAll, tempDir } from './harness.js';

afterAll(stopAll);

const token = (over: Partial<NewEnrollmentToken> = {}): NewEnrollmentToken => ({
  id: randomBytes(8).toString('hex'),
  secretHash: randomBytes(32).toString('hex'),
  target: 'sensor-*',
  pattern: true,
  tags: { site: 'plant-2', line: 'a' },
  maps: ['shell', 'ssh=127.0.0.1:22'],
  createdBy: 'console (alice)',
  createdAt: Date.now(),
  expiresAt: Date.now() + 60_000,
  ...over,
});

/** Two stores on one database: the second stands for another node of a cluster. */
const engines: Array<[string, () => Promise<[Store, Store]>]> = [
  ['sqlite', async () => {
    const dir = tempDir();
    return [await openStore({ dataDir: dir }), await openStore({ dataDir: dir })];
  }],
  ['postgres', async () => {
    const pg = await startPostgres();
    const url = await pg.createDatabase('enrollment_suite');
    return [await openStore({ dataDir: tempDir(), url }), await openStore({ dataDir: tempDir(), url })];
  }],
];

describe.each(engines)('enrollment tokens on %s', (_engine, open) => {
  let a: Store;
  let b: Store;
  beforeAll(async () => {
    [a, b] = await open();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('keeps a token as written and gives it to exactly one use', async () => {
    const t = token();
    await a.enrollment.create(t);
    expect(await b.enrollment.get(t.id)).toEqual({ ...t, usedAt: null, usedBy: null });
    const at = Date.now();
    expect(await a.enrollment.consume(t.id, 'sensor-1', at)).toMatchObject({ id: t.id, usedAt: at, usedBy: 'sensor-1' });
    expect(await b.enrollment.consume(t.id, 'sensor-2', at + 1)).toBeUndefined();
    expect(await a.enrollment.get(t.id)).toMatchObject({ usedAt: at, usedBy: 'sensor-1' });
    expect(await a.enrollment.get('nope')).toBeUndefined();
  });

  it('lets exactly one of many parallel uses from two nodes win', async () => {
    for (let round = 0; round < 5; round++) {
      const t = token();
      await a.enrollment.create(t);
      const tries = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).enrollment.consume(t.id, `dev-${i}`, Date.now()));
      const won = (await Promise.all(tries)).filter((r) => r !== undefined);
      expect(won).toHaveLength(1);
      expect((await b.enrollment.get(t.id))?.usedBy).toBe(won[0]?.usedBy);
    }
  });

  it('refuses a use at or after the expiry, and counts only live unused tokens', async () => {
    const now = Date.now();
    const before = await a.enrollment.countLive(now);
    const t = token({ expiresAt: now + 1000 });
    await a.enrollment.create(t);
    expect(await a.enrollment.countLive(now)).toBe(before + 1);
    expect(await a.enrollment.consume(t.id, 'late', now + 1000)).toBeUndefined();
    expect(await a.enrollment.get(t.id)).toMatchObject({ usedAt: null, usedBy: null });
    expect(await a.enrollment.countLive(now + 1000)).toBeLessThanOrEqual(before);
    expect(await a.enrollment.consume(t.id, 'in-time', now + 999)).toMatchObject({ usedBy: 'in-time' });
    expect(await a.enrollment.countLive(now)).toBe(before);
  });

  it('undoes a use only for the device that made it', async () => {
    const t = token();
    await a.enrollment.create(t);
    await a.enrollment.consume(t.id, 'first', Date.now());
    await b.enrollment.release(t.id, 'someone-else');
    expect((await a.enrollment.get(t.id))?.usedBy).toBe('first');
    await b.enrollment.release(t.id, 'first');
    expect(await a.enrollment.get(t.id)).toMatchObject({ usedAt: null, usedBy: null });
    expect(await a.enrollment.consume(t.id, 'second', Date.now())).toMatchObject({ usedBy: 'second' });
  });

  it('drops tokens that expired before a time', async () => {
    const old = token({ createdAt: 1000, expiresAt: 2000 });
    const live = token();
    await a.enrollment.create(old);
    await a.enrollment.create(live);
    expect(await a.enrollment.deleteExpired(3000)).toBeGreaterThanOrEqual(1);
    expect(await a.enrollment.get(old.id)).toBeUndefined();
    expect(await a.enrollment.get(live.id)).toBeDefined();
  });

  it('keeps device tags (replaced only when an update gives them), the agent name and the services it announced', async () => {
    const w = { status: 'enabled' as const, statusReason: null, primaryKey: newKey(), secondaryKey: newKey() };
    expect(await a.devices.create('tagged-1', { ...w, tags: { site: 'plant-2' } })).toMatchObject({ tags: { site: 'plant-2' }, agent: null });
    expect(await a.devices.update('tagged-1', w)).toMatchObject({ tags: { site: 'plant-2' } });
    expect(await a.devices.update('tagged-1', { ...w, tags: { site: 'plant-3', rack: '7' } })).toMatchObject({ tags: { site: 'plant-3', rack: '7' } });
    expect((await a.devices.create('untagged-1', w))?.tags).toEqual({});
    expect(await b.devices.setAgent('tagged-1', 'devicestreams-agent/0.1.0', null)).toBe(true);
    expect(await b.devices.setAgent('tagged-1', 'devicestreams-agent/0.1.0', null)).toBe(false);
    expect(await a.devices.get('tagged-1')).toMatchObject({ agent: 'devicestreams-agent/0.1.0', services: null });
    expect(await b.devices.setAgent('tagged-1', 'devicestreams-agent/0.1.0', ['http', 'shell'])).toBe(true);
    expect(await b.devices.setAgent('tagged-1', 'devicestreams-agent/0.1.0', ['http', 'shell'])).toBe(false);
    expect((await a.devices.get('tagged-1'))?.services).toEqual(['http', 'shell']);
  });
});

describe('store migrate and enrollment', () => {
  it('moves devices with their tags, agent and services, and leaves enrollment tokens behind, counting the live unused ones', async () => {
    const dir = tempDir();
    const source = await openStore({ dataDir: dir });
    const w = { status: 'enabled' as const, statusReason: null, primaryKey: newKey(), secondaryKey: newKey() };
    await source.devices.create('moved-1', { ...w, tags: { site: 'plant-2' } });
    await source.devices.setAgent('moved-1', 'devicestreams-agent/0.1.0', ['files', 'shell']);
    const live = token();
    const used = token();
    await source.enrollment.create(live);
    await source.enrollment.create(used);
    await source.enrollment.create(token({ createdAt: 1000, expiresAt: 2000 }));
    await source.enrollment.consume(used.id, 'moved-1', Date.now());
    await source.close();
    const pg = await startPostgres();
    const url = await pg.createDatabase('enrollment_migrate');
    const summary = await migrateStore({ dataDir: dir, url });
    expect(summary.enrollmentTokensLeft).toBe(1);
    const target = await openStore({ dataDir: tempDir(), url });
    try {
      expect(await target.devices.get('moved-1')).toMatchObject({ tags: { site: 'plant-2' }, agent: 'devicestreams-agent/0.1.0', services: ['files', 'shell'] });
      expect(await target.enrollment.get(live.id)).toBeUndefined();
      expect(await target.enrollment.countLive(Date.now())).toBe(0);
    } finally {
      await target.close();
    }
  });
});
