/**
 * The stream log's repository on every engine of the store (SQLite and a real PostgreSQL): the
 * states a stream moves through, the cluster's limit counts, resumable streams across
 * interruptions, what a lost node leaves, stale set-ups, and the paged log.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../server/store/store.js';
import { stopAll } from './harness.js';
import { storeEngines, write } from './fixtures/store-engines.js';

afterAll(stopAll);

describe.each(storeEngines('stream_suite'))('stream log on %s', (_engine, open) => {
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store.close();
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
});
