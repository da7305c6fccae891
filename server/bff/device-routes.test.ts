import { describe, expect, it } from 'vitest';
import type { DeviceSummary } from '../../shared/console-api.js';
import { FleetSummary, parseDeviceListQuery } from './device-routes.js';

/** A hub statistics call the test finishes by hand; `reads` counts the calls. */
function slowHub(): { read: () => Promise<DeviceSummary>; reads: number; finish(registered: number): void } {
  const waiting: Array<(s: DeviceSummary) => void> = [];
  const hub = {
    reads: 0,
    read: () => {
      hub.reads += 1;
      return new Promise<DeviceSummary>((resolve) => waiting.push(resolve));
    },
    finish: (registered: number) => {
      for (const w of waiting.splice(0)) w({ registered, enabled: registered, disabled: 0, online: 0 });
    },
  };
  return hub;
}

describe('FleetSummary', () => {
  it('while the feed is followed, answers from one hub call until a batch says something changed', async () => {
    const hub = slowHub();
    const s = new FleetSummary(hub.read, () => true);
    const first = s.get();
    const second = s.get();
    hub.finish(5);
    expect((await first).registered).toBe(5);
    expect((await second).registered).toBe(5);
    expect((await s.get()).registered).toBe(5);
    expect(hub.reads).toBe(1);
    s.changed();
    const third = s.get();
    hub.finish(6);
    expect((await third).registered).toBe(6);
    expect(hub.reads).toBe(2);
  });

  it('does not hand out a count read before a change to a caller who asks after it', async () => {
    const hub = slowHub();
    const s = new FleetSummary(hub.read, () => true);
    const early = s.get();
    s.changed();
    const late = s.get();
    expect(hub.reads).toBe(2);
    hub.finish(7);
    await Promise.all([early, late]);
    // The later call started after the change: its answer is kept.
    await s.get();
    expect(hub.reads).toBe(2);
  });

  it('without the feed keeps nothing: only calls that overlap share a hub call', async () => {
    const hub = slowHub();
    const s = new FleetSummary(hub.read, () => false);
    const a = s.get();
    const b = s.get();
    hub.finish(1);
    await Promise.all([a, b]);
    expect(hub.reads).toBe(1);
    const c = s.get();
    hub.finish(2);
    expect((await c).registered).toBe(2);
    expect(hub.reads).toBe(2);
  });

  it('does not keep a failed call', async () => {
    let fail = true;
    let reads = 0;
    const s = new FleetSummary(() => {
      reads += 1;
      return fail ? Promise.reject(new Error('hub down')) : Promise.resolve({ registered: 1, enabled: 1, disabled: 0, online: 0 });
    }, () => true);
    await expect(s.get()).rejects.toThrow('hub down');
    fail = false;
    expect((await s.get()).registered).toBe(1);
    expect(reads).toBe(2);
  });
});

describe('parseDeviceListQuery', () => {
  it('turns the console parameters into the hub page query, 50 devices unless asked', () => {
    expect(parseDeviceListQuery(new URLSearchParams(''))).toEqual({ top: 50, search: undefined, status: undefined, connectionState: undefined, continuation: undefined });
    expect(parseDeviceListQuery(new URLSearchParams('search=Pump&status=disabled&online=false&cursor=abc_-1&limit=200'))).toEqual({
      top: 200,
      search: 'Pump',
      status: 'disabled',
      connectionState: 'Disconnected',
      continuation: 'abc_-1',
    });
    expect(parseDeviceListQuery(new URLSearchParams('online=true')).connectionState).toBe('Connected');
  });

  it('refuses what it cannot read with a 400 that names the parameter', () => {
    for (const [q, name] of [['limit=201', 'limit'], ['limit=00', 'limit'], ['status=on', 'status'], ['online=1', 'online'], ['search=a b', 'search'], ['cursor=a.b', 'cursor'], ['page=2', 'page'], ['status=enabled&status=enabled', 'status']] as const) {
      expect(() => parseDeviceListQuery(new URLSearchParams(q)), q).toThrow(expect.objectContaining({ status: 400, message: expect.stringContaining(`"${name}"`) as unknown }) as Error);
    }
  });
});
