import { describe, expect, it } from 'vitest';
import { FLOW_HIGH_WATER_BYTES, FLOW_LOW_WATER_BYTES, WriteFlowControl } from './flow-control';

describe('WriteFlowControl', () => {
  it('asks for PAUSE once when the backlog passes the high watermark', () => {
    const f = new WriteFlowControl(100, 10);
    expect(f.written(60)).toBe(false);
    expect(f.written(60)).toBe(true);
    expect(f.written(60)).toBe(false); // already paused: no second PAUSE
    expect(f.paused).toBe(true);
    expect(f.pending).toBe(180);
  });

  it('asks for RESUME once the callbacks bring the backlog under the low watermark', () => {
    const f = new WriteFlowControl(100, 10);
    f.written(60);
    f.written(60);
    expect(f.drained(60)).toBe(false); // 60 pending, still above low
    expect(f.drained(55)).toBe(true); // 5 pending
    expect(f.paused).toBe(false);
    expect(f.drained(5)).toBe(false);
    expect(f.pending).toBe(0);
  });

  it('never resumes without a pause, and never goes negative', () => {
    const f = new WriteFlowControl(100, 10);
    f.written(50);
    expect(f.drained(50)).toBe(false);
    expect(f.drained(50)).toBe(false);
    expect(f.pending).toBe(0);
  });

  it('survives a flood: pending stays bounded when writes drain as fast as they come', () => {
    const f = new WriteFlowControl();
    const chunk = 64 * 1024;
    let pauses = 0;
    let resumes = 0;
    const queue: number[] = [];
    for (let i = 0; i < 1000; i++) {
      if (f.written(chunk)) pauses++;
      queue.push(chunk);
      // xterm parses two chunks for every three that arrive, then catches up while paused
      if (i % 3 !== 0) if (f.drained(queue.shift() ?? 0)) resumes++;
      if (f.paused) while (queue.length > 0) if (f.drained(queue.shift() ?? 0)) resumes++;
    }
    expect(pauses).toBeGreaterThan(0);
    expect(resumes).toBe(pauses);
    expect(f.pending).toBeLessThanOrEqual(FLOW_HIGH_WATER_BYTES + chunk);
  });

  it('starts a new connection unpaused but keeps the backlog', () => {
    const f = new WriteFlowControl(100, 10);
    f.written(200);
    f.resetPause();
    expect(f.paused).toBe(false);
    expect(f.pending).toBe(200);
    expect(f.written(1)).toBe(true);
  });

  it('rejects watermarks in the wrong order', () => {
    expect(() => new WriteFlowControl(10, 10)).toThrow(RangeError);
    expect(FLOW_LOW_WATER_BYTES).toBeLessThan(FLOW_HIGH_WATER_BYTES);
  });
});
