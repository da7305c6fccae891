/**
 * One suite for every engine of the store: the embedded SQLite store in a data directory and the
 * cluster store on a real PostgreSQL server (Debian's, started for this file). Each repository
 * method is checked for what the rest of the server relies on.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../server/store/open.js';
import type { DeviceQuery, DeviceWrite, Store } from '../server/store/store.js';
import { newKey } from '../server/store/keys.js';
import { stopAll, tempDir } from './harness.js';
import { startPostgres } from './fixtures/postgres.js';

afterAll(stopAll);

const write = (over: Partial<DeviceWrite> = {}): DeviceWrite => ({ status: 'enabled', statusReason: null, primaryKey: newKey(), secondaryKey: newKey(), ...over });

async function readAll(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

const engines: Array<[string, () => Promise<Store>]> = [
  ['sqlite', () => openStore({ dataDir: tempDir() })],
  ['postgres', async () => {
    const pg = await startPostgres();
    return openStore({ dataDir: tempDir(), url: await pg.createDatabase('store_suite') });
  }],
];

describe.each(engines)('store on %s', (engine, open) => {
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

  it('moves a stream through its states, the first end report winning', async () => {
    const id = randomUUID();
    await store.streams.create({ id, deviceId: 's-dev', streamName: 'ssh', initiator: 'service', operator: 'olga', createdAt: 1000, node: 'node-a' });
    expect(await store.streams.get(id)).toMatchObject({ state: 'pending', node: 'node-a', gatewayNode: null, operator: 'olga' });
    await store.streams.answer(id, 'accepted', null, 1100, 'node-b');
    expect(await store.streams.get(id)).toMatchObject({ state: 'accepted', result: 'accepted', acceptedAt: 1100, gatewayNode: 'node-b' });
    await store.streams.opened(id, 1200);
    expect(await store.streams.countLive('s-dev')).toBe(1);
    expect((await store.streams.liveFor('s-dev')).map((s) => s.id)).toEqual([id]);
    expect(await store.streams.ended(id, { closedBy: 'service', closeCode: 1000, reason: 'closed normally', bytesToDevice: 5, bytesFromDevice: 7 }, 1300)).toEqual({ bytesToDevice: 5, bytesFromDevice: 7 });
    expect(await store.streams.ended(id, { closedBy: 'device', closeCode: 4001, reason: 'late', bytesToDevice: 0, bytesFromDevice: 0 }, 1400)).toBeUndefined();
    expect(await store.streams.get(id)).toMatchObject({ state: 'ended', closedBy: 'service', bytesToDevice: 5, bytesFromDevice: 7, connectedAt: 1200, endedAt: 1300 });
    expect(await store.streams.countLive('s-dev')).toBe(0);
    expect(await store.streams.handshakeTimedOut(id, 1500)).toBe(false);
  });

  it('counts live streams of a device and in all in one read, and takes a device answer as its last activity', async () => {
    const dev = `lc-${randomUUID().slice(0, 8)}`;
    await store.devices.create(dev, write());
    const before = await store.streams.liveCounts(dev);
    expect(before.device).toBe(0);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [k, id] of ids.entries()) await store.streams.create({ id, deviceId: k < 2 ? dev : 'lc-other', streamName: 'ssh', initiator: 'service', operator: null, createdAt: 1000, node: 'lc-node' });
    expect(await store.streams.liveCounts(dev)).toEqual({ device: 2, all: before.all + 3 });
    // Accepted by the device at 5000: the stream is accepted and the device active then.
    await store.streams.answer(ids[0] as string, 'accepted', null, 5001, 'node-b', 5000);
    expect(await store.streams.get(ids[0] as string)).toMatchObject({ state: 'accepted', acceptedAt: 5001, gatewayNode: 'node-b' });
    expect((await store.devices.get(dev))?.lastActivityTime).toBe(new Date(5000).toISOString());
    // Rejected by the device: the stream ends and the device's activity moves on.
    await store.streams.answer(ids[1] as string, 'rejected', 'no such service', 6001, undefined, 6000);
    expect(await store.streams.get(ids[1] as string)).toMatchObject({ state: 'ended', result: 'rejected', reason: 'no such service' });
    expect((await store.devices.get(dev))?.lastActivityTime).toBe(new Date(6000).toISOString());
    // Answered by the hub (the device said nothing): its activity stays.
    await store.streams.answer(ids[0] as string, 'responseTimeout', 'x', 7001);
    expect((await store.devices.get(dev))?.lastActivityTime).toBe(new Date(6000).toISOString());
    expect(await store.streams.liveCounts(dev)).toEqual({ device: 0, all: before.all + 1 });
    await store.streams.answer(ids[2] as string, 'deviceOffline', 'x', 7001);
  });

  it('keeps a resumable stream through interruptions: keys by side, times of each interruption and resume, byte totals that only grow, one move per endpoint, the resume-window sweep ending it once', async () => {
    const id = randomUUID();
    await store.streams.create({ id, deviceId: 'r-dev', streamName: 'ssh', initiator: 'service', operator: null, createdAt: 1000, node: 'node-a', resume: { windowMs: 5000, serviceKeyHash: 'a'.repeat(64), deviceKeyHash: 'b'.repeat(64) } });
    expect(await store.streams.resumeKeyHash(id, 'service')).toBe('a'.repeat(64));
    expect(await store.streams.resumeKeyHash(id, 'device')).toBe('b'.repeat(64));
    await store.streams.answer(id, 'accepted', null, 1100, 'node-a');
    await store.streams.opened(id, 1200);
    // The first pair carried 10 and 20 bytes; a second report of the same interruption changes nothing.
    expect(await store.streams.interrupted(id, 2000, { bytesToDevice: 10, bytesFromDevice: 20 })).toEqual({ bytesToDevice: 10, bytesFromDevice: 20 });
    expect(await store.streams.interrupted(id, 2100, { bytesToDevice: 10, bytesFromDevice: 20 })).toEqual({ bytesToDevice: 0, bytesFromDevice: 0 });
    expect(await store.streams.get(id)).toMatchObject({ state: 'open', interruptions: 1, resumes: 0, interruptedAt: 2000 });
    // Its endpoint's node is gone: the first to move it wins.
    expect(await store.streams.moveGateway(id, 'node-a', 'node-b')).toBe(true);
    expect(await store.streams.moveGateway(id, 'node-a', 'node-c')).toBe(false);
    await store.streams.resumed(id, 2500);
    expect(await store.streams.get(id)).toMatchObject({ gatewayNode: 'node-b', interruptions: 1, resumes: 1, interruptedAt: null });
    // Within the window nothing ends; a second interruption past its window is ended by one sweep only.
    expect(await store.streams.endResumeTimeouts(2600)).toEqual([]);
    expect(await store.streams.interrupted(id, 3000, { bytesToDevice: 8, bytesFromDevice: 50 })).toEqual({ bytesToDevice: 0, bytesFromDevice: 30 });
    expect(await store.streams.endResumeTimeouts(7999)).toEqual([]);
    expect(await store.streams.endResumeTimeouts(8001)).toEqual([{ id, gatewayNode: 'node-b', reason: 'resumeTimeout: not resumed within 5 s' }]);
    expect(await store.streams.endResumeTimeouts(9000)).toEqual([]);
    expect(await store.streams.get(id)).toMatchObject({ state: 'ended', closedBy: 'hub', closeCode: 4010, bytesToDevice: 10, bytesFromDevice: 50, interruptions: 2, resumes: 1 });
    expect(await store.streams.interruptionsOf(id, 10)).toEqual([{ interruptedAt: 2000, resumedAt: 2500 }, { interruptedAt: 3000, resumedAt: null }]);
    expect(await store.streams.interrupted(id, 9500, { bytesToDevice: 99, bytesFromDevice: 99 })).toBeUndefined();
    expect(await store.streams.ended(id, { closedBy: 'device', closeCode: 1000, reason: 'late', bytesToDevice: 99, bytesFromDevice: 99 }, 9600)).toBeUndefined();
  });

  it('interrupts an open resumable stream its lost node carried instead of ending it', async () => {
    const open = randomUUID();
    const plain = randomUUID();
    const keys = { windowMs: 60_000, serviceKeyHash: 'c'.repeat(64), deviceKeyHash: 'd'.repeat(64) };
    await store.streams.create({ id: open, deviceId: 'n-dev', streamName: 'ssh', initiator: 'service', operator: null, createdAt: 1000, node: 'node-x', resume: keys });
    await store.streams.create({ id: plain, deviceId: 'n-dev', streamName: 'ssh', initiator: 'service', operator: null, createdAt: 1000, node: 'node-x' });
    for (const id of [open, plain]) {
      await store.streams.answer(id, 'accepted', null, 1100, 'node-x');
      await store.streams.opened(id, 1200);
    }
    expect(await store.streams.closeNodeStreams('node-x', 'nodeLost', 5000)).toBe(1);
    expect(await store.streams.get(plain)).toMatchObject({ state: 'ended', reason: 'nodeLost: node node-x stopped' });
    expect(await store.streams.get(open)).toMatchObject({ state: 'open', interruptedAt: 5000, interruptions: 1 });
  });

  it('ends what a node left live — its pending streams and the streams its endpoint carried — and nothing else', async () => {
    const mk = async (node: string, gateway: string | null): Promise<string> => {
      const id = randomUUID();
      await store.streams.create({ id, deviceId: 'r-dev', streamName: 'x', initiator: 'service', operator: null, createdAt: Date.now(), node });
      if (gateway !== null) await store.streams.answer(id, 'accepted', null, Date.now(), gateway);
      return id;
    };
    const pendingOnA = await mk('node-a', null);
    const carriedByA = await mk('node-b', 'node-a');
    const startedOnAcarriedByB = await mk('node-a', 'node-b');
    expect(await store.streams.liveNodes()).toEqual(expect.arrayContaining(['node-a', 'node-b']));
    expect(await store.streams.closeNodeStreams('node-a', 'nodeLost', 5000)).toBe(2);
    expect(await store.streams.get(pendingOnA)).toMatchObject({ state: 'ended', result: 'nodeLost', closedBy: 'hub', reason: 'nodeLost: node node-a stopped' });
    expect(await store.streams.get(carriedByA)).toMatchObject({ state: 'ended', result: 'accepted', reason: 'nodeLost: node node-a stopped' });
    expect(await store.streams.get(startedOnAcarriedByB)).toMatchObject({ state: 'accepted' });
    expect(await store.streams.closeNodeStreams('node-b', 'hubRestart', 5000)).toBe(1);
  });

  it('ends streams still setting up long after their handshake deadline, and only those', async () => {
    const old = randomUUID();
    const fresh = randomUUID();
    const open = randomUUID();
    await store.streams.create({ id: old, deviceId: 'st-dev', streamName: 'x', initiator: 'service', operator: null, createdAt: 1000, node: 'gone' });
    await store.streams.answer(old, 'accepted', null, 1001, 'node-z');
    await store.streams.create({ id: open, deviceId: 'st-dev', streamName: 'x', initiator: 'service', operator: null, createdAt: 1000, node: 'gone' });
    await store.streams.answer(open, 'accepted', null, 1001, 'node-z');
    await store.streams.opened(open, 1002);
    await store.streams.create({ id: fresh, deviceId: 'st-dev', streamName: 'x', initiator: 'service', operator: null, createdAt: 100_000, node: 'gone' });
    expect(await store.streams.endStale(50_000, 200_000)).toBe(1);
    expect(await store.streams.get(old)).toMatchObject({ state: 'ended', result: 'accepted', closedBy: 'hub', reason: 'both sides did not connect in time' });
    expect((await store.streams.get(open))?.state).toBe('open');
    expect((await store.streams.get(fresh))?.state).toBe('pending');
    await store.streams.ended(open, { closedBy: 'service', closeCode: 1000, reason: 'done', bytesToDevice: 0, bytesFromDevice: 0 }, 3000);
    await store.streams.answer(fresh, 'deviceOffline', 'x', 100_001);
  });

  it('lists the log newest first with filters and keyset paging that neither skips nor repeats rows of the same millisecond', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = `k-${String(i).padStart(2, '0')}-${randomUUID()}`;
      ids.push(id);
      await store.streams.create({ id, deviceId: 'k-dev', streamName: 'x', initiator: 'service', operator: i % 2 === 0 ? 'even' : null, createdAt: 50_000 + Math.floor(i / 3), node: 'n' });
    }
    const seen: string[] = [];
    let before: { at: number; id: string } | undefined;
    for (;;) {
      const page = await store.streams.list({ deviceId: 'k-dev', limit: 2, ...(before === undefined ? {} : { before: before.at, beforeId: before.id }) });
      seen.push(...page.map((s) => s.id));
      const last = page.at(-1);
      if (page.length < 2 || last === undefined) break;
      before = { at: last.createdAt, id: last.id };
    }
    const expected = [...ids].sort((a, b) => {
      const ta = 50_000 + Math.floor(Number(a.slice(2, 4)) / 3);
      const tb = 50_000 + Math.floor(Number(b.slice(2, 4)) / 3);
      return tb - ta || (a < b ? 1 : -1);
    });
    expect(seen).toEqual(expected);
    expect((await store.streams.list({ deviceId: 'k-dev', operator: 'even', limit: 10 })).length).toBe(4);
    expect((await store.streams.list({ deviceId: 'k-dev', since: 50_002, limit: 10 })).length).toBe(1);
  });

  it('keeps operator accounts with stable ids and their sessions, which go with the account', async () => {
    expect(await store.operators.create('alice', 'hash-1', 'operator', 10)).toBe(true);
    expect(await store.operators.create('alice', 'hash-2', 'admin', 11)).toBe(false);
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
    expect(await store.devices.syncNode('node-s', ['sy-2', 'sy-3'], 2)).toBe(3);
    expect((await store.devices.get('sy-1'))?.connectedNode).toBeNull();
    expect((await store.devices.get('sy-2'))?.connectedNode).toBe('node-s');
    expect((await store.devices.get('sy-3'))?.connectedNode).toBe('node-s');
    expect(await store.devices.syncNode('node-s', ['sy-2', 'sy-3'], 3)).toBe(0);
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

  it('records login attempts so that 30 parallel begins for one key let exactly the 20 a decider allows through, and forgets them on request', async () => {
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
    await store.logins.forget('n:suite-user', 'suite-user');
    expect(await store.logins.begin({ keys: ['a:10.0.0.9', 'n:suite-user'], since: at - 60_000, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 1, attempt: 'look3', decide: (recent, isKnown) => (recent.map((r) => r.length).join(',') === '19,0' && !isKnown ? 1 : 2) })).toBe(1);
    // Attempts older than the window are gone.
    expect(await store.logins.begin({ keys: ['a:10.0.0.9'], since: at + 1, known: { name: 'suite-user', address: '10.0.0.9' }, at: at + 60_001, attempt: 'look4', decide: (recent) => (recent[0]?.length === 0 ? 1 : 2) })).toBe(1);
    expect(seen).toEqual([false]);
  });

  it('answers ping while it is reachable', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
