import { describe, expect, it } from 'vitest';
import { PresenceWriter, type PresenceState } from '../server/hub/presence-writer.js';

/** A store whose writes finish only when the test lets them, and that records what it was given. */
function slowStore(): { writes: Array<[string, PresenceState]>; finishNext: () => Promise<void>; inFlight: () => number; write: (id: string, s: PresenceState) => Promise<void> } {
  const writes: Array<[string, PresenceState]> = [];
  const open: Array<() => void> = [];
  return {
    writes,
    write: (id, s) =>
      new Promise<void>((resolve) => {
        writes.push([id, s]);
        open.push(resolve);
      }),
    finishNext: async () => {
      open.shift()?.();
      // Let the writer take its next turn.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
    inFlight: () => open.length,
  };
}

describe('PresenceWriter', () => {
  it('writes a device one state at a time, and after a slow write only its latest state: never a connection it already knows has gone', async () => {
    const store = slowStore();
    const w = new PresenceWriter(store.write, () => undefined);
    w.changed('d1', true, 1);
    await Promise.resolve();
    await Promise.resolve();
    // While the first write is on its way the channel goes, comes back and goes again.
    w.changed('d1', false, 2);
    w.changed('d1', true, 3);
    w.changed('d1', false, 4);
    expect(store.inFlight()).toBe(1);
    await store.finishNext();
    expect(store.inFlight()).toBe(1);
    await store.finishNext();
    await w.drained();
    expect(store.writes).toEqual([
      ['d1', { online: true, at: 1 }],
      ['d1', { online: false, at: 4 }],
    ]);
    expect(w.size).toBe(0);
  });

  it('writes different devices side by side, and settles a device once what it changed so far is written', async () => {
    const store = slowStore();
    const w = new PresenceWriter(store.write, () => undefined);
    w.changed('a', true, 1);
    w.changed('b', true, 1);
    let aSettled = false;
    void w.settled('a').then(() => (aSettled = true));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(store.inFlight()).toBe(2);
    expect(aSettled).toBe(false);
    await store.finishNext();
    expect(aSettled).toBe(true);
    expect(w.size).toBe(1);
    await store.finishNext();
    await w.drained();
    expect(store.writes.map(([id]) => id)).toEqual(['a', 'b']);
  });

  it('reports a failed write with the state it had and goes on with the next one', async () => {
    const failed: Array<[string, PresenceState, string]> = [];
    let calls = 0;
    const w = new PresenceWriter(
      async () => {
        calls += 1;
        await Promise.resolve();
        if (calls === 1) throw new Error('store unreachable');
      },
      (id, s, err) => failed.push([id, s, (err as Error).message]),
    );
    w.changed('d', true, 1);
    await w.settled('d');
    w.changed('d', false, 2);
    await w.settled('d');
    expect(failed).toEqual([['d', { online: true, at: 1 }, 'store unreachable']]);
    expect(calls).toBe(2);
  });
});
