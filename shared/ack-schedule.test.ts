import { afterEach, describe, expect, it, vi } from 'vitest';
import { AckSchedule } from './ack-schedule.js';
import { ACK_EVERY_BYTES, ACK_INTERVAL_MS } from './stream-protocol.js';

afterEach(() => {
  vi.useRealTimers();
});

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('AckSchedule', () => {
  it('acknowledges at the end of the turn when ACK_EVERY_BYTES are due, and a smaller amount only after ACK_INTERVAL_MS, once', async () => {
    // setImmediate stays real: the end of the turn is what is under test.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let offset = 0;
    const sent: number[] = [];
    const acks = new AckSchedule(() => offset, (o) => {
      sent.push(o);
      return true;
    });
    offset = ACK_EVERY_BYTES;
    acks.schedule(offset);
    expect(sent).toEqual([]);
    await endOfTurn();
    expect(sent).toEqual([ACK_EVERY_BYTES]);
    offset += 1000;
    acks.schedule(offset);
    acks.schedule(offset);
    expect(sent).toEqual([ACK_EVERY_BYTES]);
    vi.advanceTimersByTime(ACK_INTERVAL_MS - 1);
    expect(sent).toEqual([ACK_EVERY_BYTES]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([ACK_EVERY_BYTES, ACK_EVERY_BYTES + 1000]);
    // Nothing new: the timer is not armed again and nothing more is sent.
    acks.schedule(offset);
    vi.advanceTimersByTime(5 * ACK_INTERVAL_MS);
    expect(sent).toHaveLength(2);
    acks.stop();
  });

  it('offers an offset again next time when it could not be sent (no leg), and never acknowledges the same offset twice', async () => {
    let ready = false;
    let offset = 0;
    const sent: number[] = [];
    let refused = 0;
    const acks = new AckSchedule(() => offset, (o) => {
      if (!ready) {
        refused += 1;
        return false;
      }
      sent.push(o);
      return true;
    });
    offset = 2 * ACK_EVERY_BYTES;
    acks.schedule(offset);
    await endOfTurn();
    // Tried at the end of the turn, refused: not counted as acknowledged.
    expect(refused).toBe(1);
    expect(sent).toEqual([]);
    ready = true;
    acks.now();
    acks.now();
    expect(sent).toEqual([2 * ACK_EVERY_BYTES]);
    acks.stop();
  });

  it('sends one acknowledgement, of the last offset, for everything taken in one turn', async () => {
    let offset = 0;
    const sent: number[] = [];
    const acks = new AckSchedule(() => offset, (o) => {
      sent.push(o);
      return true;
    });
    for (let i = 1; i <= 4; i++) {
      offset = i * ACK_EVERY_BYTES;
      acks.schedule(offset);
    }
    expect(sent).toEqual([]);
    await endOfTurn();
    expect(sent).toEqual([4 * ACK_EVERY_BYTES]);
    // The next turn's bytes get their own.
    offset += ACK_EVERY_BYTES;
    acks.schedule(offset);
    await endOfTurn();
    expect(sent).toEqual([4 * ACK_EVERY_BYTES, 5 * ACK_EVERY_BYTES]);
    acks.stop();
  });

  it('sends nothing at the end of the turn once stopped', async () => {
    const sent: number[] = [];
    const acks = new AckSchedule(() => ACK_EVERY_BYTES, (o) => {
      sent.push(o);
      return true;
    });
    acks.schedule(ACK_EVERY_BYTES);
    acks.stop();
    await endOfTurn();
    await endOfTurn();
    expect(sent).toEqual([]);
  });
});
