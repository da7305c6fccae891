/**
 * One suite for every engine of the store: the embedded SQLite store in a data directory and the
 * cluster store on a real PostgreSQL server (Debian's, started for this file). Each repository
 * method is checked for what the rest of the server relies on. The stream log's methods are in
 * store-streams.test.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceQuery, HeldConnection, Store } from '../server/store/store.js';
import { stopAll } from './harness.js';
import { storeEngines, write } from './fixtures/store-engines.js';

/** The channels a node holds, as `[device id, accepted at]`. */
const held = (...channels: [string, number][]): HeldConnection[] => channels.map(([deviceId, since]) => ({ deviceId, since }));

afterAll(stopAll);


async function readAll(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}


describe.each(storeEngines('store_suite'))('store on %s', (engine, open) => {
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('is the engine it says', () => {
    expect(store.engine).toBe(engine);
  });

  it('creates, reads, updates (new etag, status time only on a status change) and deletes devices; a taken id is refused', async () => {
    const w = write();
    const created = await store.devices.create('dev-a', w);
    expect(created).toMatchObject({ deviceId: 'dev-a', status: 'enabled', primaryKey: w.primaryKey, connectedNode: null, lastActivityTime: null });
    expect(await store.devices.create('dev-a', write())).toBeUndefined();
    const same = await store.devices.update('dev-a', { ...w, statusReason: 'note' });
    expect(same?.etag).not.toBe(created?.etag);
    expect(same?.statusUpdatedTime).toBe(created?.statusUpdatedTime);
    await new Promise((r) => setTimeout(r, 5));
    const disabled = await store.devices.update('dev-a', { ...w, status: 'disabled' });
    expect(disabled?.status).toBe('disabled');
    expect(disabled?.statusUpdatedTime).not.toBe(created?.statusUpdatedTime);
    expect(await store.devices.update('nobody', w)).toBeUndefined();
    expect(await store.devices.delete('dev-a')).toBe(true);
    expect(await store.devices.delete('dev-a')).toBe(false);
    expect(await store.devices.get('dev-a')).toBeUndefined();
  });

  it('pages the registry in id order with search (any part, any case, % and _ literal), status and online filters', async () => {
    for (const id of ['pump-01', 'pump-02', 'PUMP-03', 'valve_1', 'valve%2', 'gauge-9']) await store.devices.create(`p-${id}`, write({ status: id === 'pump-02' ? 'disabled' : 'enabled' }));
    await store.devices.connected('p-pump-01', 'node-a', Date.now());
    const ids = async (q: Parameters<Store['devices']['page']>[0]): Promise<string[]> => (await store.devices.page(q)).map((d) => d.deviceId);
    expect(await ids({ search: 'p-', limit: 100 })).toEqual(['p-PUMP-03', 'p-gauge-9', 'p-pump-01', 'p-pump-02', 'p-valve%2', 'p-valve_1']);
    expect(await ids({ search: 'pump', limit: 100 })).toEqual(['p-PUMP-03', 'p-pump-01', 'p-pump-02']);
    expect(await ids({ search: 've_', limit: 100 })).toEqual(['p-valve_1']);
    expect(await ids({ search: 've%', limit: 100 })).toEqual(['p-valve%2']);
    expect(await ids({ search: 'p-', status: 'disabled', limit: 100 })).toEqual(['p-pump-02']);
    expect(await ids({ search: 'p-', online: true, limit: 100 })).toEqual(['p-pump-01']);
    expect(await ids({ search: 'p-', online: false, limit: 2 })).toEqual(['p-PUMP-03', 'p-gauge-9']);
    expect(await ids({ search: 'p-', after: 'p-pump-01', limit: 2 })).toEqual(['p-pump-02', 'p-valve%2']);
  });

  it('counts devices in all, enabled, disabled and online', async () => {
    const before = await store.devices.counts();
    await store.devices.create('c-1', write());
    await store.devices.create('c-2', write({ status: 'disabled' }));
    await store.devices.connected('c-1', 'node-a', Date.now());
    const after = await store.devices.counts();
    expect([after.total - before.total, after.enabled - before.enabled, after.disabled - before.disabled, after.online - before.online]).toEqual([2, 1, 1, 1]);
  });

  it('orders a device\'s connections by when they began, not by when their writes arrive: an older connection written late (reported as not recorded) and its node\'s disconnect leave the newer holder on another node; a reaped node does not make a later connection look old; a node\'s own clock stepping back hides none of its reconnections', async () => {
    for (const id of ['o-1', 'o-2', 'o-3']) await store.devices.create(id, write());
    const t = Date.now();
    // o-1 left ord-a and reached ord-b; ord-b's write arrived first, ord-a's after it.
    expect(await store.devices.connected('o-1', 'ord-b', t + 600)).toBe(true);
    expect(await store.devices.connected('o-1', 'ord-a', t)).toBe(false);
    expect((await store.devices.get('o-1'))?.connectedNode).toBe('ord-b');
    await store.devices.disconnected('o-1', 'ord-a', t + 500);
    expect((await store.devices.get('o-1'))?.connectedNode).toBe('ord-b');
    // o-2 was on ord-a, which was reaped; its connection to ord-b began before the reaping was written.
    await store.devices.connected('o-2', 'ord-a', t);
    expect(await store.devices.releaseNode('ord-a', t + 900)).toBe(1);
    expect(await store.devices.connected('o-2', 'ord-b', t + 600)).toBe(true);
    expect((await store.devices.get('o-2'))?.connectedNode).toBe('ord-b');
    // o-3 reconnected to ord-a after ord-a's clock stepped back: the node's own order stands.
    await store.devices.connected('o-3', 'ord-a', t + 600);
    expect(await store.devices.connected('o-3', 'ord-a', t)).toBe(true);
    expect((await store.devices.get('o-3'))?.connectedNode).toBe('ord-a');
    await store.devices.disconnected('o-3', 'ord-a', t + 100);
    await store.devices.connected('o-3', 'ord-a', t + 200);
    expect((await store.devices.get('o-3'))?.connectedNode).toBe('ord-a');
  });

  it('records connections per node: a disconnect from a node that lost the device to another changes nothing; releasing a node frees only its devices', async () => {
    await store.devices.create('n-1', write());
    await store.devices.create('n-2', write());
    const t = Date.now();
    await store.devices.connected('n-1', 'node-a', t);
    await store.devices.connected('n-1', 'node-b', t + 1); // moved to node-b
    await store.devices.disconnected('n-1', 'node-a', t + 2); // node-a's late disconnect
    expect((await store.devices.get('n-1'))?.connectedNode).toBe('node-b');
    await store.devices.connected('n-2', 'node-c', t);
    expect(await store.devices.holdingNodes()).toEqual(expect.arrayContaining(['node-b', 'node-c']));
    expect(await store.devices.releaseNode('node-c', t + 3)).toBe(1);
    expect((await store.devices.get('n-2'))?.connectedNode).toBeNull();
    expect((await store.devices.get('n-1'))?.connectedNode).toBe('node-b');
    await store.devices.disconnected('n-1', 'node-b', t + 4);
    const n1 = await store.devices.get('n-1');
    expect(n1?.connectedNode).toBeNull();
    expect(n1?.connectionStateUpdatedTime).toBe(new Date(t + 4).toISOString());
  });

  it('creates the default policies once, with the console policy unable to read keys', async () => {
    const first = await store.policies.ensureDefaults();
    expect(first).toEqual(expect.arrayContaining(['iothubowner', 'service', 'device', 'registryRead', 'registryReadWrite', 'console']));
    expect(await store.policies.ensureDefaults()).toEqual([]);
    const consolePolicy = await store.policies.get('console');
    expect([...(consolePolicy?.rights ?? [])].sort()).toEqual(['Enroll', 'RegistryView', 'ServiceConnect']);
    expect((await store.policies.list()).map((p) => p.name)).toContain('iothubowner');
  });

  it('keeps operator accounts with stable ids, names unique regardless of case, and their sessions, which go with the account', async () => {
    expect(await store.operators.create('alice', 'hash-1', 'operator', 10)).toBe(true);
    expect(await store.operators.create('alice', 'hash-2', 'admin', 11)).toBe(false);
    // Unique regardless of case: "Alice" beside "alice" could be told apart by case alone.
    expect(await store.operators.create('Alice', 'hash-2', 'admin', 11)).toBe(false);
    expect(await store.operators.get('Alice')).toBeUndefined();
    const alice = await store.operators.get('alice');
    expect(alice).toMatchObject({ name: 'alice', role: 'operator', createdAt: 10 });
    expect(await store.operators.getById(alice?.id ?? '')).toEqual(alice);
    expect((await store.operators.getWithHash('alice'))?.passwordHash).toBe('hash-1');
    expect(await store.operators.setRole('alice', 'viewer')).toBe(true);
    expect(await store.operators.setPasswordHash('alice', 'hash-3')).toBe(true);
    const now = Date.now();
    await store.sessions.create('token-hash-1', 'alice', now, now + 60_000);
    expect(await store.sessions.get('token-hash-1', now)).toEqual({ tokenHash: 'token-hash-1', operator: 'alice', expiresAt: now + 60_000 });
    expect(await store.sessions.get('token-hash-1', now + 60_001)).toBeUndefined();
    expect(await store.operators.delete('alice')).toBe(true);
    expect(await store.sessions.get('token-hash-1', now)).toBeUndefined();
    expect(await store.operators.create('alice', 'hash-4', 'admin', 12)).toBe(true);
    expect((await store.operators.get('alice'))?.id).not.toBe(alice?.id);
    expect((await store.operators.list()).map((o) => o.name)).toContain('alice');
  });

  it('keeps recordings: rows, progress, the unfinished of a node, retention order, settings, and content written in pieces read back whole', async () => {
    const id = randomUUID();
    const startedAt = Date.parse('2026-11-30T10:00:00Z');
    await store.recordings.insert({ streamId: id, deviceId: 'rec-dev', operator: 'olga', operatorId: 'op-1', node: 'node-a', startedAt, inputRecorded: false, cols: 80, rows: 24 });
    const sink = store.recordingData.create(id, startedAt);
    const pieces = Array.from({ length: 40 }, (_, i) => randomBytes(3000 + i));
    for (const p of pieces) sink.write(p);
    await sink.close();
    expect(sink.failed).toBe(false);
    const whole = Buffer.concat(pieces);
    expect(await store.recordingData.size(id, startedAt)).toBe(whole.length);
    const back = await store.recordingData.read(id, startedAt);
    expect(back).toBeDefined();
    expect((await readAll(back as NodeJS.ReadableStream)).equals(whole)).toBe(true);
    expect((await store.recordings.unfinished('node-a')).map((r) => r.streamId)).toContain(id);
    expect((await store.recordings.unfinished('node-b')).map((r) => r.streamId)).not.toContain(id);
    await store.recordings.update(id, { size: whole.length, durationMs: 1234, truncated: true, endedAt: startedAt + 2000 });
    expect(await store.recordings.get(id)).toMatchObject({ size: whole.length, durationMs: 1234, truncated: true, endedAt: startedAt + 2000, operatorId: 'op-1', node: 'node-a' });
    expect((await store.recordings.getMany([id, 'missing'])).size).toBe(1);
    expect((await store.recordings.olderThan(startedAt + 1, 10)).map((r) => r.streamId)).toContain(id);
    expect((await store.recordings.olderThan(startedAt, 10)).map((r) => r.streamId)).not.toContain(id);
    await store.recordingData.delete(id, startedAt);
    expect(await store.recordingData.read(id, startedAt)).toBeUndefined();
    expect(await store.recordings.delete(id)).toBe(true);
    expect(await store.recordings.setting('recordInput')).toBeUndefined();
    await store.recordings.setSetting('recordInput', 'true');
    await store.recordings.setSetting('recordInput', 'false');
    expect(await store.recordings.setting('recordInput')).toBe('false');
  });

  it('reopens a finished recording for a resumed terminal session and appends after what it holds', async () => {
    const id = randomUUID();
    const startedAt = Date.parse('2026-12-01T09:00:00Z');
    await store.recordings.insert({ streamId: id, deviceId: 'rec-dev', operator: 'olga', operatorId: 'op-1', node: 'node-a', startedAt, inputRecorded: false, cols: 80, rows: 24 });
    const first = store.recordingData.create(id, startedAt);
    const a = randomBytes(70_000);
    first.write(a);
    await first.close();
    await store.recordings.update(id, { size: a.length, durationMs: 10, truncated: false, endedAt: startedAt + 10 });
    expect(await store.recordings.reopen(id, 'node-b')).toMatchObject({ streamId: id, endedAt: null, node: 'node-b', size: a.length });
    expect((await store.recordings.unfinished('node-b')).map((r) => r.streamId)).toContain(id);
    const more = store.recordingData.append(id, startedAt);
    const b = [randomBytes(100), randomBytes(80_000)];
    for (const piece of b) more.write(piece);
    await more.close();
    expect(more.failed).toBe(false);
    const back = await store.recordingData.read(id, startedAt);
    expect((await readAll(back as NodeJS.ReadableStream)).equals(Buffer.concat([a, ...b]))).toBe(true);
    expect(await store.recordings.reopen('no-such-recording', 'node-b')).toBeUndefined();
    await store.recordingData.delete(id, startedAt);
    await store.recordings.delete(id);
  });

  it('keeps resumable terminal sessions: attach numbers, a stale detach changes nothing, lists per operator without the expired, detaches a dead node\'s at once', async () => {
    const t0 = Date.now();
    const row = (sessionId: string, operatorId: string, createdAt: number) => ({
      sessionId, deviceId: 'dev-t', operator: `name-${operatorId}`, operatorId, secret: 'c2VjcmV0', recordingId: `rec-${sessionId}`, streamId: `stream-${sessionId}`, node: 'node-a', createdAt, detachTimeoutMs: 600_000,
    });
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(32);
    const c = 'c'.repeat(32);
    await store.terminalSessions.create(row(a, 'op-1', t0));
    await store.terminalSessions.create(row(b, 'op-1', t0 + 1));
    await store.terminalSessions.create(row(c, 'op-2', t0 + 2));
    expect(await store.terminalSessions.get(a)).toEqual({ ...row(a, 'op-1', t0), attachSeq: 1, attached: true, detachedAt: null, expiresAt: null, outputRecorded: 0, inputRecorded: 0 });
    expect(await store.terminalSessions.get('f'.repeat(32))).toBeUndefined();

    // Attach 2 (another node) took over before attach 1's end was written: that end changes nothing.
    expect(await store.terminalSessions.attach(a, 'node-b', 'stream-2', t0 + 10)).toBe(2);
    expect(await store.terminalSessions.detach(a, 1, { at: t0 + 11, expiresAt: t0 + 1000, outputRecorded: 5, inputRecorded: 6 })).toBe(false);
    expect(await store.terminalSessions.get(a)).toMatchObject({ attached: true, node: 'node-b', streamId: 'stream-2', attachSeq: 2 });
    expect(await store.terminalSessions.detach(a, 2, { at: t0 + 12, expiresAt: t0 + 1000, outputRecorded: 5, inputRecorded: 6 })).toBe(true);
    expect(await store.terminalSessions.get(a)).toMatchObject({ attached: false, detachedAt: t0 + 12, expiresAt: t0 + 1000, outputRecorded: 5, inputRecorded: 6 });
    expect(await store.terminalSessions.attach('f'.repeat(32), 'node-b', 'x', t0)).toBeUndefined();

    const ids = async (q: { operatorId?: string; now: number }): Promise<string[]> => (await store.terminalSessions.list({ ...q, limit: 50 })).map((r) => r.sessionId).filter((id) => [a, b, c].includes(id));
    expect(await ids({ operatorId: 'op-1', now: t0 + 20 })).toEqual([b, a]);
    expect(await ids({ now: t0 + 20 })).toEqual([c, b, a]);
    // Past its expiry a detached session is no longer listed, and the sweep deletes it.
    expect(await ids({ operatorId: 'op-1', now: t0 + 1000 })).toEqual([b]);
    expect(await store.terminalSessions.deleteExpired(t0 + 1000)).toBeGreaterThanOrEqual(1);
    expect(await store.terminalSessions.get(a)).toBeUndefined();

    // node-a died: its attached sessions are detached from now, expiring after their timeout.
    expect(await store.terminalSessions.detachNode('node-a', t0 + 50)).toBe(2);
    expect(await store.terminalSessions.get(b)).toMatchObject({ attached: false, detachedAt: t0 + 50, expiresAt: t0 + 50 + 600_000 });
    expect(await store.terminalSessions.detachNode('node-a', t0 + 60)).toBe(0);
    expect(await store.terminalSessions.delete(b)).toBe(true);
    expect(await store.terminalSessions.delete(b)).toBe(false);
    await store.terminalSessions.delete(c);
  });

  it('makes a shared secret once and gives every later caller the same one', async () => {
    const a = await store.secrets.getOrCreate('suite-secret', 32);
    const b = await store.secrets.getOrCreate('suite-secret', 32);
    expect(a.length).toBe(32);
    expect(b.equals(a)).toBe(true);
  });

  it('runs exclusive work once at a time: a second caller during the first is skipped', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    let ran = 0;
    const first = store.exclusively('suite-lock', async () => {
      ran += 1;
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    const second = await store.exclusively('suite-lock', () => {
      ran += 1;
      return Promise.resolve();
    });
    release();
    expect(await first).toBe(true);
    // The embedded store has one process: nobody to share the work with, so it always runs.
    expect(second).toBe(engine === 'sqlite');
    expect(ran).toBe(engine === 'sqlite' ? 2 : 1);
  });

  it('makes the store agree with what a node holds: claims its devices, releases the others it had', async () => {
    for (const id of ['sy-1', 'sy-2', 'sy-3']) await store.devices.create(id, write());
    await store.devices.connected('sy-1', 'node-s', 1);
    await store.devices.connected('sy-3', 'node-t', 1);
    expect(await store.devices.syncNode('node-s', held(['sy-2', 1], ['sy-3', 1]), 2)).toBe(3);
    expect((await store.devices.get('sy-1'))?.connectedNode).toBeNull();
    expect((await store.devices.get('sy-2'))?.connectedNode).toBe('node-s');
    // Connected since its channel was accepted (what the console shows), not since the correction.
    expect((await store.devices.get('sy-2'))?.connectionStateUpdatedTime).toBe(new Date(1).toISOString());
    expect((await store.devices.get('sy-3'))?.connectedNode).toBe('node-s');
    expect(await store.devices.syncNode('node-s', held(['sy-2', 1], ['sy-3', 1]), 3)).toBe(0);
  });

  it('leaves alone what changed after the list a node syncs was taken: a device that connected after it stays online, one that left stays offline', async () => {
    for (const id of ['sl-1', 'sl-2', 'sl-3']) await store.devices.create(id, write());
    // The node took its list at t=10 (sl-2 held, sl-1 not yet); then sl-1 connected and sl-2 left,
    // and their presence writes reached the store before the correction did.
    await store.devices.connected('sl-2', 'node-l', 5);
    await store.devices.connected('sl-1', 'node-l', 11);
    await store.devices.disconnected('sl-2', 'node-l', 12);
    // sl-3's connection write was lost (the store was unreachable at t=7): that one it corrects.
    expect(await store.devices.syncNode('node-l', held(['sl-2', 5], ['sl-3', 7]), 10)).toBe(1);
    expect((await store.devices.get('sl-1'))?.connectedNode).toBe('node-l');
    expect((await store.devices.get('sl-2'))?.connectedNode).toBeNull();
    expect((await store.devices.get('sl-3'))?.connectedNode).toBe('node-l');
  });

  it('does not let a node claim a device another node holds for a newer connection, and claims one no node holds whatever the times', async () => {
    for (const id of ['sc-1', 'sc-2']) await store.devices.create(id, write());
    // node-sa still holds channels it accepted at t=3: sc-1's is a half-open one the device left for
    // node-sb at t=5 (still there). sc-2 reconnected to node-sc at t=6 by node-sc's clock and left it
    // at 7; node-sa's channel may be its current one (node-sa's clock behind) or a stale one about to
    // go: either way the store must not say "connected nowhere" while node-sa holds it.
    await store.devices.connected('sc-1', 'node-sb', 5);
    await store.devices.connected('sc-2', 'node-sc', 6);
    await store.devices.disconnected('sc-2', 'node-sc', 7);
    expect(await store.devices.syncNode('node-sa', held(['sc-1', 3], ['sc-2', 3]), 10)).toBe(1);
    expect((await store.devices.get('sc-1'))?.connectedNode).toBe('node-sb');
    expect((await store.devices.get('sc-2'))?.connectedNode).toBe('node-sa');
    // A channel newer than the recorded connection is the device's current one: that is claimed,
    // and its time recorded, so the older channel's node cannot take it back.
    expect(await store.devices.syncNode('node-sa', held(['sc-1', 8], ['sc-2', 3]), 11)).toBe(1);
    expect((await store.devices.get('sc-1'))?.connectedNode).toBe('node-sa');
    expect(await store.devices.connected('sc-1', 'node-sb', 5)).toBe(false);
    expect(await store.devices.syncNode('node-sb', held(['sc-1', 5]), 12)).toBe(0);
    expect((await store.devices.get('sc-1'))?.connectedNode).toBe('node-sa');
  });

  it('never moves a record\'s connection time back when it claims one, so a node\'s slower correction taken before a later change still loses to that change', async () => {
    await store.devices.create('ri-1', write());
    // Connected to node-rc at 150; node-rc's correction takes its list at 200 and is slow; the
    // device leaves node-rc at 220; node-ra, holding a channel from 100, corrects at 230.
    await store.devices.connected('ri-1', 'node-rc', 150);
    await store.devices.disconnected('ri-1', 'node-rc', 220);
    expect(await store.devices.syncNode('node-ra', held(['ri-1', 100]), 230)).toBe(1);
    expect((await store.devices.get('ri-1'))?.connectionStateUpdatedTime).toBe(new Date(230).toISOString());
    // node-rc's correction lands now: its list is older than the record's last change.
    expect(await store.devices.syncNode('node-rc', held(['ri-1', 150]), 200)).toBe(0);
    expect((await store.devices.get('ri-1'))?.connectedNode).toBe('node-ra');
  });

  it('deletes the numbered secrets of a prefix below a number, and no other secret', async () => {
    const made = new Map<string, Buffer>();
    for (const name of ['tk-test.5', 'tk-test.6', 'tk-test.7', 'tk-test.x', 'tk-test.6.tmp', 'tk-other.1']) made.set(name, await store.secrets.getOrCreate(name, 48));
    expect(await store.secrets.removeNumberedBefore('tk-test.', 7)).toBe(2);
    // What is gone is made again (new bytes); what stayed reads back as it was.
    for (const [name, before] of made) {
      const kept = !['tk-test.5', 'tk-test.6'].includes(name);
      expect({ name, same: (await store.secrets.getOrCreate(name, 48)).equals(before) }).toEqual({ name, same: kept });
    }
  });

  it('finds search hits past the first 2,000 ids in order as well as within them, in id order, and pages across that boundary', async () => {
    const hits = new Set([5, 1999, 2000, 2050]);
    const all = Array.from({ length: 2100 }, (_, i) => `w-${String(i).padStart(4, '0')}${hits.has(i) ? '-x' : ''}`);
    for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map((id) => store.devices.create(id, write())));
    try {
      const ids = async (q: Omit<DeviceQuery, 'search'>): Promise<string[]> => (await store.devices.page({ search: '-x', ...q })).map((d) => d.deviceId);
      expect(await ids({ limit: 100 })).toEqual(['w-0005-x', 'w-1999-x', 'w-2000-x', 'w-2050-x']);
      expect(await ids({ limit: 3 })).toEqual(['w-0005-x', 'w-1999-x', 'w-2000-x']);
      expect(await ids({ limit: 3, after: 'w-2000-x' })).toEqual(['w-2050-x']);
      expect(await ids({ limit: 1, after: 'w-0005-x' })).toEqual(['w-1999-x']);
      expect(await ids({ limit: 10, after: 'w-1000' })).toEqual(['w-1999-x', 'w-2000-x', 'w-2050-x']);
      expect(await ids({ limit: 10, status: 'disabled' })).toEqual([]);
    } finally {
      for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map((id) => store.devices.delete(id)));
    }
    // Deleted devices are gone from search too (PostgreSQL searches a table of ids kept by a trigger).
    expect(await store.devices.page({ search: '-x', limit: 100 })).toEqual([]);
    expect(await store.devices.create('w-0005-x', write())).toBeDefined();
    expect((await store.devices.page({ search: 'w-0005', limit: 100 })).map((d) => d.deviceId)).toEqual(['w-0005-x']);
    await store.devices.delete('w-0005-x');
  });

  it('shares token buckets: a full bucket of N gives N tokens, then says how long until the next, which then comes', async () => {
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) waits.push(await store.rates.take('suite-bucket', 4));
    expect(waits.slice(0, 4)).toEqual([0, 0, 0, 0]);
    // Empty: a token is a quarter second away (less the little time the four takes took).
    expect(waits[4]).toBeGreaterThan(0.15);
    expect(waits[4]).toBeLessThanOrEqual(0.25);
    await new Promise((r) => setTimeout(r, (waits[4] ?? 0) * 1000 + 30));
    expect(await store.rates.take('suite-bucket', 4)).toBe(0);
    expect(await store.rates.take('other-bucket', 4)).toBe(0);
  });

  it('gives 40 takes at once from a bucket of 2 a second exactly 2 tokens plus what refilled while they ran', async () => {
    const t0 = Date.now();
    const waits = await Promise.all(Array.from({ length: 40 }, () => store.rates.take('parallel-bucket', 2)));
    const seconds = (Date.now() - t0) / 1000;
    const granted = waits.filter((w) => w === 0).length;
    expect(granted).toBeGreaterThanOrEqual(2);
    // A take that lost another's update would hand out more: at 2/s the refill adds one per 0.5 s.
    expect(granted).toBeLessThanOrEqual(2 + Math.floor(2 * seconds));
  });

  it('records login attempts so that 30 parallel begins for one key let exactly the 20 a decider allows through, takes one back on success or withdrawal, and forgets them on request', async () => {
    const at = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => store.logins.begin({
      keys: ['a:10.0.0.9', 'n:suite-user'],
      since: at - 60_000,
      known: { name: 'suite-user', address: '10.0.0.9' },
      at,
      attempt: `attempt-${i}`,
      decide: ([byAddress = []]) => (byAddress.length >= 20 ? 1000 : 0),
    })));
    expect(outcomes.filter((w) => w === 0)).toHaveLength(20);
    const look = (known: boolean[]) => store.logins.begin({
      keys: ['a:10.0.0.9', 'n:suite-user'], since: at - 60_000, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 1, attempt: 'look',
      decide: (recent, isKnown) => {
        known.push(isKnown);
        return recent.map((r) => r.length).join(',') === '20,20' ? 1 : 2;
      },
    });
    const seen: boolean[] = [];
    expect(await look(seen)).toBe(1);
    // A success takes its attempt back and makes the pair known.
    await store.logins.succeeded('attempt-0', { name: 'suite-user', address: '10.0.0.9' }, at + 60_000);
    expect(await store.logins.begin({ keys: ['a:10.0.0.9', 'n:suite-user'], since: at - 60_000, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 1, attempt: 'look2', decide: (recent, isKnown) => (recent.map((r) => r.length).join(',') === '19,19' && isKnown ? 1 : 2) })).toBe(1);
    // A withdrawn attempt (never checked) leaves the count alone, under both keys, and knows nothing.
    await store.logins.withdraw('attempt-1');
    expect(await store.logins.begin({ keys: ['a:10.0.0.9', 'n:suite-user'], since: at - 60_000, known: { name: 'other-user', address: '10.0.0.9' }, at: at + 1, attempt: 'look2b', decide: (recent, isKnown) => (recent.map((r) => r.length).join(',') === '18,18' && !isKnown ? 1 : 2) })).toBe(1);
    await store.logins.forget('n:suite-user', 'suite-user');
    expect(await store.logins.begin({ keys: ['a:10.0.0.9', 'n:suite-user'], since: at - 60_000, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 1, attempt: 'look3', decide: (recent, isKnown) => (recent.map((r) => r.length).join(',') === '18,0' && !isKnown ? 1 : 2) })).toBe(1);
    // Attempts older than the window are gone.
    expect(await store.logins.begin({ keys: ['a:10.0.0.9'], since: at + 1, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 60_001, attempt: 'look4', decide: (recent) => (recent[0]?.length === 0 ? 1 : 2) })).toBe(1);
    expect(seen).toEqual([false]);
  });

  it("swaps a device's agent instance and gives back the one it replaced (null at first; undefined for the same one or no device), eight at once each seeing another one", async () => {
    await store.devices.create('inst-dev', write());
    expect(await store.devices.swapInstance('inst-dev', 'i-1')).toBeNull();
    expect(await store.devices.swapInstance('inst-dev', 'i-2')).toBe('i-1');
    expect(await store.devices.swapInstance('inst-dev', 'i-2')).toBeUndefined();
    expect(await store.devices.swapInstance('no-such-dev', 'i-1')).toBeUndefined();
    // At once: each swap reads what the one before it wrote (the row is locked), so the answers are
    // the start value and seven of the eight new ones, each once.
    const seen = await Promise.all(Array.from({ length: 8 }, (_, i) => store.devices.swapInstance('inst-dev', `c-${i}`)));
    const last = await store.devices.swapInstance('inst-dev', 'end');
    expect([...seen, last].sort()).toEqual(['i-2', ...Array.from({ length: 8 }, (_, i) => `c-${i}`)].sort());
  });

  it('answers ping while it is reachable', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
