import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { retryLeg } from './leg-retry.js';

const leg = {} as WebSocket;

describe('retryLeg', () => {
  it('waits at least the jittered quarter second between failed tries and returns the leg it then gets', async () => {
    const at: number[] = [];
    const t0 = Date.now();
    const r = await retryLeg({
      reconnect: () => {
        at.push(Date.now() - t0);
        return at.length < 3 ? Promise.reject(new Error('hub down')) : Promise.resolve(leg);
      },
      stopped: () => false,
    });
    expect(r).toEqual({ leg });
    expect(at).toHaveLength(3);
    // Each wait is at least 125 ms (a quarter second, jittered down to half at most); no upper
    // bound here, a loaded machine runs timers late.
    for (let k = 1; k < at.length; k++) expect((at[k] as number) - (at[k - 1] as number)).toBeGreaterThanOrEqual(120);
  });

  it('stops at an error the caller calls fatal, and when the stream is given up meanwhile', async () => {
    const fatal = new Error('stream ended');
    expect(await retryLeg({ reconnect: () => Promise.reject(fatal), isFatal: (e) => e === fatal, stopped: () => false })).toEqual({ fatal });
    let tries = 0;
    const r = await retryLeg({
      reconnect: () => {
        tries += 1;
        return Promise.reject(new Error('hub down'));
      },
      stopped: () => tries >= 2,
    });
    expect(r).toEqual({ stopped: true });
    expect(tries).toBe(2);
  });
});
